"""Feeds: contracts, source mappings, the landing-zone reader and the network simulator."""
