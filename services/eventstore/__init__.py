"""Event-store plumbing every service shares: backend choice and index rows written with the events."""

from services.eventstore.application import IndexedApplication
from services.eventstore.index import Claim, ClaimConflict, Put, Release, Table
from services.eventstore.settings import store_env

__all__ = ["Claim", "ClaimConflict", "IndexedApplication", "Put", "Release", "Table", "store_env"]
