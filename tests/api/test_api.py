import json
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.test import Client

from ledgerbridge import __version__
from ledgerbridge.core import clock
from ledgerbridge.core.models import WorkerHeartbeat
from tests.api.openapi import assert_matches_openapi, openapi_document

pytestmark = pytest.mark.django_db


def test_openapi_document_is_json_and_lists_the_health_endpoint(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "LedgerBridge API"
    health = document["paths"]["/api/v1/health"]["get"]
    assert set(health["responses"]) == {"200", "503"}


def test_health_without_a_worker_is_ok_and_matches_the_document(client: Client) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "database": "ok",
        "worker_heartbeat_age_seconds": None,
        "worker": "never seen",
    }
    assert_matches_openapi(response)


def test_health_with_a_live_worker_matches_the_document(client: Client) -> None:
    moment = clock.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", kind="db", started_at=moment, last_seen=moment - timedelta(seconds=5)
    )
    with clock.frozen_at(moment):
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["worker"] == "ok"
    assert response.json()["worker_heartbeat_age_seconds"] == 5.0
    assert_matches_openapi(response)


def test_health_is_503_when_the_database_is_unreachable(client: Client) -> None:
    broken = mock.Mock(side_effect=OperationalError("connection refused"))
    with mock.patch.object(connection, "cursor", broken):
        response = client.get("/api/v1/health")
    assert broken.called
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "unreachable"
    assert "connection refused" not in response.content.decode()
    assert_matches_openapi(response, openapi_document())


def test_docs_page_loads_its_assets_from_our_own_static_files(client: Client) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    # The app must work offline: every asset is a local path, none names another host.
    assert all(asset.startswith("/static/") for asset in assets), assets
