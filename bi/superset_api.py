"""A small client of Superset's REST API (login, CSRF, find-by-name), shared by the provisioning and check scripts."""

from __future__ import annotations

import time

import prison
import requests


class SupersetError(RuntimeError):
    pass


class Superset:
    def __init__(self, url: str, username: str, password: str, timeout: float = 120):
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        login = self.http.post(f"{self.url}/api/v1/security/login", timeout=timeout,
                               json={"username": username, "password": password, "provider": "db", "refresh": True})
        self._check(login, "log in")
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = self.http.get(f"{self.url}/api/v1/security/csrf_token/", timeout=timeout)
        self._check(csrf, "get a CSRF token")
        self.http.headers.update({"X-CSRFToken": csrf.json()["result"], "Referer": self.url})

    @staticmethod
    def _check(response: requests.Response, what: str) -> requests.Response:
        if not response.ok:
            raise SupersetError(f"Superset refused to {what}: HTTP {response.status_code} {response.text[:1500]}")
        return response

    def call(self, method: str, path: str, what: str, **kwargs) -> dict:
        response = self.http.request(method, f"{self.url}/api/v1/{path}", timeout=self.timeout, **kwargs)
        return self._check(response, what).json() if response.content else {}

    def find(self, resource: str, column: str, value: str) -> int | None:
        """The id of the ``resource`` whose ``column`` equals ``value``, if there is one."""
        query = prison.dumps({"filters": [{"col": column, "opr": "eq", "value": value}], "page_size": 100})
        found = self.call("GET", f"{resource}/?q={query}", f"look up {resource} {value}")["result"]
        matching = [item["id"] for item in found if item.get(column) == value]
        return matching[0] if matching else None


def wait_healthy(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url.rstrip('/')}/health", timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SupersetError(f"Superset at {url} did not become healthy within {timeout:.0f}s")
