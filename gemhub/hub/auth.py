"""auth: section → the authenticator JupyterHub uses."""

from __future__ import annotations

import os

from ..config import GemhubConfig
from ..paths import Paths
from . import demo_passwords


def apply(c, cfg: GemhubConfig, paths: Paths) -> None:
    auth = cfg.auth
    c.Authenticator.admin_users = set(auth.admin_users)
    if auth.type == "demo":
        users = sorted(set(auth.demo.users) | set(auth.admin_users))
        passwords_file = paths.data_dir / demo_passwords.FILENAME
        demo_passwords.ensure(passwords_file, users)
        c.JupyterHub.authenticator_class = "gemhub.hub.demo_auth.DemoAuthenticator"
        c.DemoAuthenticator.passwords_file = str(passwords_file)
        c.Authenticator.allowed_users = set(users)
    elif auth.type == "native":
        import nativeauthenticator

        # nativeauthenticator's own login form is a 500 under JupyterHub 6 (native_auth.py says why).
        c.JupyterHub.authenticator_class = "gemhub.hub.native_auth.GemhubNativeAuthenticator"
        c.JupyterHub.template_paths = [os.path.join(os.path.dirname(nativeauthenticator.__file__), "templates")]
        c.NativeAuthenticator.open_signup = auth.native.open_signup
        c.NativeAuthenticator.minimum_password_length = auth.native.minimum_password_length
        # Signed-up users are let in once an admin authorises them (admins are pre-authorised).
        c.Authenticator.allow_all = True
    else:
        oauth = auth.oauth
        c.JupyterHub.authenticator_class = "generic-oauth"
        c.GenericOAuthenticator.login_service = oauth.login_service
        c.GenericOAuthenticator.client_id = oauth.client_id
        c.GenericOAuthenticator.client_secret = os.environ.get(oauth.client_secret_env, "")
        c.GenericOAuthenticator.authorize_url = oauth.authorize_url
        c.GenericOAuthenticator.token_url = oauth.token_url
        c.GenericOAuthenticator.userdata_url = oauth.userdata_url
        c.GenericOAuthenticator.username_claim = oauth.username_claim
        c.GenericOAuthenticator.scope = oauth.scope
        # auth_state keeps the provider's tokens and claims, for per-user credentials
        # (auth.oauth.credentials_from_auth_state), encrypted with JUPYTERHUB_CRYPT_KEY.
        c.GenericOAuthenticator.enable_auth_state = True
        if oauth.allowed_groups:
            # OAuthenticator 17 reads groups from auth_state, and only when it manages them.
            c.GenericOAuthenticator.manage_groups = True
            c.GenericOAuthenticator.auth_state_groups_key = f"oauth_user.{oauth.claim_groups_key}"
            c.GenericOAuthenticator.allowed_groups = set(oauth.allowed_groups)
        else:
            c.GenericOAuthenticator.allow_all = True
