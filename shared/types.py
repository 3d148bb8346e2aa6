"""Type aliases used across hookmesh."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

JSON = Any
Headers = Mapping[str, str]
EventId = str
SourceName = str
DestinationName = str
EventType = str
Subject = str
Clock = Callable[[], float]
AsyncCallback = Callable[[], Awaitable[None]]
