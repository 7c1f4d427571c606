"""Tokens of an OpenID Connect provider, verified with its key set: generated here, served from a file and
over HTTP, as a Keycloak realm publishes them."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.web.auth import Principal, Unauthenticated, issue_token, read_token
from services.web.oidc import KeysUnavailable, OidcSettings, settings_from

SECRET = "test-secret-long-enough-for-hmac-sha256"
ISSUER = "https://sso.example.org/realms/gs"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwks(*keys):
    listed = []
    for kid, key in keys:
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
        listed.append({**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"})
    return {"keys": listed}


def keycloak_token(key=RSA_KEY, kid="rsa-1", algorithm="RS256", **claims):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "relief", "exp": now + 300, "iat": now, "sub": "f3c1",
            "preferred_username": "zhang.san", "realm_access": {"roles": ["offline_access", "caseworker"]},
            "federation": "gs.by", **claims}
    return "Bearer " + jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm,
                                  headers={"kid": kid})


@pytest.fixture
def provider(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(("rsa-1", RSA_KEY), ("ec-1", EC_KEY))))
    return OidcSettings(issuer=ISSUER, jwks=f"file://{path}", audience="relief")


def test_a_providers_token_names_the_user_role_and_federation_from_its_claims(provider):
    assert read_token(SECRET, keycloak_token(), provider) == Principal("zhang.san", "caseworker", "gs.by")
    assert read_token(SECRET, keycloak_token(EC_KEY, "ec-1", "ES256"), provider).role == "caseworker"


def test_the_gateways_own_tokens_still_work_beside_the_provider(provider):
    token = issue_token(SECRET, "li", "approver", "gs.by")
    assert read_token(SECRET, f"Bearer {token}", provider).user == "li"


@pytest.mark.parametrize(("claims", "why"), [
    ({"iss": "https://evil.example.org/realms/gs"}, "issuer"),
    ({"aud": "another-app"}, "(?i)audience"),
    ({"exp": int(time.time()) - 60}, "expired"),
    ({"realm_access": {"roles": ["offline_access"]}}, "exactly one"),
    ({"realm_access": {"roles": ["caseworker", "admin"]}}, "exactly one"),
    ({"federation": "GS BY"}, "federation"),
    ({"federation": None}, "federation"),
    ({"preferred_username": "li\nsi"}, "login name"),
])
def test_a_token_the_provider_did_not_sign_for_this_system_is_refused(provider, claims, why):
    with pytest.raises(Unauthenticated, match=why):
        read_token(SECRET, keycloak_token(**claims), provider)


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused(provider):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        read_token(SECRET, keycloak_token(stranger), provider)


def test_an_unknown_kid_is_refused_after_reading_the_key_set_again(provider):
    with pytest.raises(Unauthenticated, match="no key 'rsa-9'"):
        read_token(SECRET, keycloak_token(kid="rsa-9"), provider)


def test_an_hs256_token_signed_with_the_public_key_is_not_accepted_as_the_providers(provider):
    """The algorithm-confusion attack: HS256 goes the shared-secret way, and the secret is not the key."""
    public = RSA_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    forged = _hs256(public)
    with pytest.raises(Unauthenticated):
        read_token(SECRET, f"Bearer {forged}", provider)


def _hs256(secret: bytes) -> str:
    """An HS256 token keyed with the provider's public key (PyJWT refuses to do this, so by hand)."""
    import base64
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = part(json.dumps({"sub": "x", "role": "admin", "fed": "gs", "exp": int(time.time()) + 60}).encode())
    signature = part(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


class Jwks(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *args):
        pass


def test_a_key_set_over_http_is_read_and_a_rotated_key_is_found_by_reading_it_again():
    Jwks.document = json.dumps(jwks(("rsa-1", RSA_KEY))).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/realms/gs/protocol/openid-connect/certs"
        provider = OidcSettings(issuer=ISSUER, jwks=url, audience="relief")
        assert read_token(SECRET, keycloak_token(), provider).user == "zhang.san"
        Jwks.document = json.dumps(jwks(("rsa-1", RSA_KEY), ("ec-1", EC_KEY))).encode()  # the realm adds a key
        assert read_token(SECRET, keycloak_token(EC_KEY, "ec-1", "ES256"), provider).user == "zhang.san"
    finally:
        server.shutdown()


def test_a_key_set_that_cannot_be_read_is_an_outage_not_a_refusal(tmp_path):
    provider = OidcSettings(issuer=ISSUER, jwks=f"file://{tmp_path}/missing.json")
    with pytest.raises(KeysUnavailable):
        read_token(SECRET, keycloak_token(jti="not seen before"), provider)


def test_the_provider_comes_from_the_config_and_is_shared_by_every_route(tmp_path):
    assert settings_from({"OIDC_ISSUER": ""}) is None
    config = {"OIDC_ISSUER": ISSUER, "OIDC_JWKS": f"file://{tmp_path}/jwks.json", "OIDC_ROLE_CLAIM": "roles"}
    assert settings_from(config) is settings_from(dict(config))
    assert settings_from(config).role_claim == "roles"
    with pytest.raises(ValueError, match="RELIEF_OIDC_JWKS"):
        settings_from({"OIDC_ISSUER": ISSUER})
