from fastapi.testclient import TestClient


def test_health_reports_database(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404


def test_token_login_and_me(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import make_user

    make_user(db, role="manager", email="boss@test.example", password="s3cret-pass")
    db.commit()
    r = client.post("/api/v1/auth/token", data={"username": "boss@test.example", "password": "s3cret-pass"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "manager"
    bad = client.post("/api/v1/auth/token", data={"username": "boss@test.example", "password": "wrong"})
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_login_is_rate_limited(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import make_user

    make_user(db, role="agent", email="slow@test.example", password="right-password")
    db.commit()
    codes = [
        client.post(
            "/api/v1/auth/token", data={"username": "slow@test.example", "password": "nope"}
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    # even the right password is refused while throttled
    r = client.post(
        "/api/v1/auth/token", data={"username": "slow@test.example", "password": "right-password"}
    )
    assert r.status_code == 429
