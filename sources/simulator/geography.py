"""Where the network is: the 122 plant sites and the cities suppliers ship from.

Plant sites are real automotive towns with their IANA time zones (half-hour offsets and
both hemispheres' daylight saving included). The order of :func:`plant_sites` puts the
first plant of every country first (Germany, the US and China lead), so a network of a
few plants still spans regions and time zones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Site:
    city: str
    country: str
    region: str
    timezone: str
    lat: float
    lon: float


_EU, _NA, _SA, _CN, _AP, _AF = "Europe", "North America", "South America", "China", "Asia Pacific", "Africa"

# (country, region, [(city, timezone, lat, lon), ...]) in the order plants are numbered.
_PLANTS: tuple[tuple[str, str, tuple[tuple[str, str, float, float], ...]], ...] = (
    ("DE", _EU, (
        ("Wolfsburg", "Europe/Berlin", 52.42, 10.79), ("Zwickau", "Europe/Berlin", 50.72, 12.49),
        ("Leipzig", "Europe/Berlin", 51.34, 12.37), ("München", "Europe/Berlin", 48.14, 11.58),
        ("Ingolstadt", "Europe/Berlin", 48.77, 11.42), ("Sindelfingen", "Europe/Berlin", 48.71, 9.00),
        ("Regensburg", "Europe/Berlin", 49.01, 12.10), ("Dingolfing", "Europe/Berlin", 48.63, 12.50),
        ("Rastatt", "Europe/Berlin", 48.86, 8.20), ("Bremen", "Europe/Berlin", 53.08, 8.80),
        ("Emden", "Europe/Berlin", 53.37, 7.21), ("Kassel", "Europe/Berlin", 51.31, 9.48),
        ("Salzgitter", "Europe/Berlin", 52.15, 10.33), ("Braunschweig", "Europe/Berlin", 52.27, 10.52),
        ("Dresden", "Europe/Berlin", 51.05, 13.74), ("Köln", "Europe/Berlin", 50.94, 6.96),
        ("Saarlouis", "Europe/Berlin", 49.31, 6.75), ("Neckarsulm", "Europe/Berlin", 49.19, 9.22),
    )),
    ("US", _NA, (
        ("Detroit", "America/Detroit", 42.33, -83.05), ("Chattanooga", "America/New_York", 35.05, -85.31),
        ("Spartanburg", "America/New_York", 34.95, -81.93), ("Lansing", "America/Detroit", 42.73, -84.56),
        ("Fremont", "America/Los_Angeles", 37.55, -121.99), ("Austin", "America/Chicago", 30.27, -97.74),
        ("Georgetown", "America/New_York", 38.21, -84.56), ("Marysville", "America/New_York", 40.24, -83.37),
        ("Normal", "America/Chicago", 40.51, -88.99), ("Vance", "America/Chicago", 33.17, -87.23),
        ("Smyrna", "America/Chicago", 35.98, -86.52), ("Fort Wayne", "America/Indiana/Indianapolis", 41.08, -85.14),
        ("Arlington", "America/Chicago", 32.74, -97.11), ("Kansas City", "America/Chicago", 39.10, -94.58),
    )),
    ("CN", _CN, (
        ("Changchun", "Asia/Shanghai", 43.82, 125.32), ("Shanghai", "Asia/Shanghai", 31.23, 121.47),
        ("Shenyang", "Asia/Shanghai", 41.80, 123.43), ("Chengdu", "Asia/Shanghai", 30.57, 104.07),
        ("Foshan", "Asia/Shanghai", 23.02, 113.12), ("Tianjin", "Asia/Shanghai", 39.34, 117.36),
        ("Ningbo", "Asia/Shanghai", 29.87, 121.54), ("Wuhan", "Asia/Shanghai", 30.59, 114.31),
        ("Dalian", "Asia/Shanghai", 38.91, 121.61), ("Qingdao", "Asia/Shanghai", 36.07, 120.38),
        ("Guangzhou", "Asia/Shanghai", 23.13, 113.26), ("Chongqing", "Asia/Shanghai", 29.56, 106.55),
        ("Hefei", "Asia/Shanghai", 31.82, 117.23), ("Xian", "Asia/Shanghai", 34.34, 108.94),
        ("Beijing", "Asia/Shanghai", 39.90, 116.41), ("Nanjing", "Asia/Shanghai", 32.06, 118.80),
        ("Hangzhou", "Asia/Shanghai", 30.27, 120.16), ("Zhengzhou", "Asia/Shanghai", 34.75, 113.63),
        ("Liuzhou", "Asia/Shanghai", 24.33, 109.41), ("Urumqi", "Asia/Urumqi", 43.83, 87.62),
    )),
    ("BR", _SA, (
        ("São Bernardo do Campo", "America/Sao_Paulo", -23.69, -46.56),
        ("Taubaté", "America/Sao_Paulo", -23.03, -45.56),
        ("Resende", "America/Sao_Paulo", -22.47, -44.45), ("Curitiba", "America/Sao_Paulo", -25.43, -49.27),
        ("Betim", "America/Sao_Paulo", -19.97, -44.20), ("Camaçari", "America/Bahia", -12.70, -38.32),
    )),
    ("FR", _EU, (
        ("Sochaux", "Europe/Paris", 47.51, 6.83), ("Mulhouse", "Europe/Paris", 47.75, 7.34),
        ("Flins", "Europe/Paris", 48.97, 1.87), ("Douai", "Europe/Paris", 50.37, 3.08),
        ("Rennes", "Europe/Paris", 48.11, -1.68),
    )),
    ("MX", _NA, (
        ("Puebla", "America/Mexico_City", 19.04, -98.21), ("Silao", "America/Mexico_City", 20.94, -101.43),
        ("Aguascalientes", "America/Mexico_City", 21.88, -102.29), ("Hermosillo", "America/Hermosillo", 29.07, -110.96),
        ("Saltillo", "America/Monterrey", 25.42, -101.00), ("San Luis Potosí", "America/Mexico_City", 22.16, -100.98),
        ("Salamanca", "America/Mexico_City", 20.57, -101.19),
    )),
    ("IN", _AP, (
        ("Pune", "Asia/Kolkata", 18.52, 73.86), ("Chennai", "Asia/Kolkata", 13.08, 80.27),
        ("Aurangabad", "Asia/Kolkata", 19.88, 75.34), ("Sanand", "Asia/Kolkata", 22.99, 72.38),
    )),
    ("ES", _EU, (
        ("Martorell", "Europe/Madrid", 41.47, 1.93), ("Valladolid", "Europe/Madrid", 41.65, -4.72),
        ("Vigo", "Europe/Madrid", 42.24, -8.72), ("Zaragoza", "Europe/Madrid", 41.65, -0.89),
        ("Pamplona", "Europe/Madrid", 42.81, -1.64),
    )),
    ("JP", _AP, (
        ("Toyota", "Asia/Tokyo", 35.08, 137.16), ("Hiroshima", "Asia/Tokyo", 34.39, 132.46),
        ("Miyata", "Asia/Tokyo", 33.72, 130.67),
    )),
    ("ZA", _AF, (("Rosslyn", "Africa/Johannesburg", -25.62, 28.11),
                 ("East London", "Africa/Johannesburg", -33.02, 27.91))),
    ("IT", _EU, (("Melfi", "Europe/Rome", 40.99, 15.65), ("Cassino", "Europe/Rome", 41.49, 13.83),
                 ("Torino", "Europe/Rome", 45.07, 7.69))),
    ("CZ", _EU, (("Mladá Boleslav", "Europe/Prague", 50.41, 14.90), ("Kolín", "Europe/Prague", 50.03, 15.20),
                 ("Nošovice", "Europe/Prague", 49.66, 18.42))),
    ("KR", _AP, (("Ulsan", "Asia/Seoul", 35.54, 129.31), ("Asan", "Asia/Seoul", 36.79, 127.00))),
    ("AR", _SA, (("Córdoba", "America/Argentina/Cordoba", -31.42, -64.18),
                 ("General Pacheco", "America/Argentina/Buenos_Aires", -34.46, -58.65),
                 ("Zárate", "America/Argentina/Buenos_Aires", -34.10, -59.03))),
    ("GB", _EU, (("Sunderland", "Europe/London", 54.91, -1.38), ("Solihull", "Europe/London", 52.41, -1.78),
                 ("Burnaston", "Europe/London", 52.88, -1.59))),
    ("PL", _EU, (("Poznań", "Europe/Warsaw", 52.41, 16.93), ("Gliwice", "Europe/Warsaw", 50.29, 18.67),
                 ("Tychy", "Europe/Warsaw", 50.13, 18.99))),
    ("CA", _NA, (("Oakville", "America/Toronto", 43.47, -79.69), ("Alliston", "America/Toronto", 44.15, -79.87),
                 ("Cambridge", "America/Toronto", 43.36, -80.31))),
    ("MA", _AF, (("Tanger", "Africa/Casablanca", 35.76, -5.83),)),
    ("SK", _EU, (("Bratislava", "Europe/Bratislava", 48.15, 17.11), ("Trnava", "Europe/Bratislava", 48.38, 17.59))),
    ("TH", _AP, (("Rayong", "Asia/Bangkok", 12.68, 101.28),)),
    ("HU", _EU, (("Győr", "Europe/Budapest", 47.69, 17.63), ("Kecskemét", "Europe/Budapest", 46.91, 19.69))),
    ("TR", _EU, (("Bursa", "Europe/Istanbul", 40.19, 29.06), ("Kocaeli", "Europe/Istanbul", 40.77, 29.92))),
    ("PT", _EU, (("Palmela", "Europe/Lisbon", 38.57, -8.90), ("Mangualde", "Europe/Lisbon", 40.60, -7.76))),
    ("EG", _AF, (("Cairo", "Africa/Cairo", 30.04, 31.24),)),
    ("ID", _AP, (("Karawang", "Asia/Jakarta", -6.30, 107.30),)),
    ("CO", _SA, (("Envigado", "America/Bogota", 6.17, -75.59),)),
    ("BE", _EU, (("Gent", "Europe/Brussels", 51.05, 3.72),)),
    ("AT", _EU, (("Graz", "Europe/Vienna", 47.07, 15.44),)),
    ("SE", _EU, (("Göteborg", "Europe/Stockholm", 57.71, 11.97),)),
    ("RO", _EU, (("Mioveni", "Europe/Bucharest", 44.96, 24.94),)),
    ("SI", _EU, (("Novo Mesto", "Europe/Ljubljana", 45.80, 15.17),)),
)

#: Extra supplier hubs (city, country, region, lat, lon) beyond the plant towns.
_SUPPLIER_HUBS: tuple[tuple[str, str, str, float, float], ...] = (
    ("Stuttgart", "DE", _EU, 48.78, 9.18), ("Nürnberg", "DE", _EU, 49.45, 11.08),
    ("Schweinfurt", "DE", _EU, 50.05, 10.23), ("Herzogenaurach", "DE", _EU, 49.57, 10.89),
    ("Lyon", "FR", _EU, 45.76, 4.84), ("Milano", "IT", _EU, 45.46, 9.19), ("Brescia", "IT", _EU, 45.54, 10.21),
    ("Barcelona", "ES", _EU, 41.39, 2.17), ("Katowice", "PL", _EU, 50.26, 19.02),
    ("Timisoara", "RO", _EU, 45.75, 21.23), ("Linz", "AT", _EU, 48.31, 14.29), ("Eindhoven", "NL", _EU, 51.44, 5.48),
    ("Birmingham", "GB", _EU, 52.49, -1.89), ("Ostrava", "CZ", _EU, 49.82, 18.26),
    ("Shenzhen", "CN", _CN, 22.54, 114.06), ("Suzhou", "CN", _CN, 31.30, 120.59), ("Wuxi", "CN", _CN, 31.49, 120.31),
    ("Dongguan", "CN", _CN, 23.02, 113.75), ("Xiamen", "CN", _CN, 24.48, 118.09),
    ("Taipei", "TW", _AP, 25.03, 121.57), ("Osaka", "JP", _AP, 34.69, 135.50), ("Nagoya", "JP", _AP, 35.18, 136.91),
    ("Busan", "KR", _AP, 35.18, 129.08), ("Bangalore", "IN", _AP, 12.97, 77.59), ("Penang", "MY", _AP, 5.41, 100.33),
    ("Bangkok", "TH", _AP, 13.76, 100.50), ("Hanoi", "VN", _AP, 21.03, 105.85),
    ("Melbourne", "AU", _AP, -37.81, 144.96),
    ("Monterrey", "MX", _NA, 25.69, -100.32), ("Querétaro", "MX", _NA, 20.59, -100.39),
    ("Ciudad Juárez", "MX", _NA, 31.69, -106.42), ("Toledo", "US", _NA, 41.65, -83.54),
    ("Columbus", "US", _NA, 39.96, -83.00), ("Greenville", "US", _NA, 34.85, -82.40),
    ("Windsor", "CA", _NA, 42.31, -83.04), ("Campinas", "BR", _SA, -22.91, -47.06),
    ("Joinville", "BR", _SA, -26.30, -48.85), ("Rosario", "AR", _SA, -32.95, -60.64),
    ("Casablanca", "MA", _AF, 33.57, -7.59), ("Tunis", "TN", _AF, 36.81, 10.18), ("Durban", "ZA", _AF, -29.86, 31.02),
)


def plant_sites() -> list[tuple[str, Site]]:
    """(plant id, site) for the whole network, in the order a smaller network takes them."""
    ranked = []
    for priority, (country, region, cities) in enumerate(_PLANTS):
        for k, (city, tz, lat, lon) in enumerate(cities):
            plant_id = f"{country}{k + 1:02d}"
            ranked.append(((0.0 if k == 0 else k / len(cities)), priority, plant_id,
                           Site(city, country, region, tz, lat, lon)))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [(r[2], r[3]) for r in ranked]


MAX_PLANTS = sum(len(cities) for _, _, cities in _PLANTS)


def supplier_cities() -> list[Site]:
    """Cities suppliers ship from: every plant town and the supplier hubs (time zone unused)."""
    cities = [Site(city, country, region, tz, lat, lon)
              for country, region, rows in _PLANTS for city, tz, lat, lon in rows]
    cities += [Site(city, country, region, "UTC", lat, lon) for city, country, region, lat, lon in _SUPPLIER_HUBS]
    return cities


def distance_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


assert MAX_PLANTS == 122, MAX_PLANTS
