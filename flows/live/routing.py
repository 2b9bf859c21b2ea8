"""WebSocket routes of the live pages: /ws + the page's own path."""

from __future__ import annotations

from django.urls import path, re_path

from flows.live.consumers import (
    DashboardConsumer,
    InboxConsumer,
    NoSuchPage,
    RunConsumer,
    RunsConsumer,
)

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/runs/", RunsConsumer.as_asgi()),
    path("ws/failures/", InboxConsumer.as_asgi()),
    path("ws/runs/<str:flow_id>/", RunConsumer.as_asgi()),
    re_path(r"", NoSuchPage.as_asgi()),  # last: any other path
]
