"""Settings: the one place that reads the environment."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration from environment variables (and a `.env` file when present)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    @property
    def staff_need_second_factor(self) -> bool:
        return (
            self.staff_second_factor if self.staff_second_factor is not None else not self.sandbox
        )

    environment: Literal["development", "test", "production"] = "development"
    sandbox: bool = Field(
        default=False,
        description="A sandbox deployment: a shared platform clock that admins and API keys with "
        "the `sandbox` scope move forward (`/v1/sandbox/clock`). `make run` turns it on; "
        "refused in production.",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset means the embedded pgserver instance in data_dir.",
    )
    data_dir: Path = Path(".data")
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs access tokens. Unset outside production: generated once into data_dir.",
    )
    staff_second_factor: bool | None = Field(
        default=None,
        description="Platform staff get the `platform` scope only when they sign in with a TOTP "
        "code (or a recovery code). Unset: required everywhere but in a sandbox, where the demo's "
        "staff sign in with a password alone.",
    )
    access_token_seconds: int = Field(default=900, ge=60)
    refresh_token_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    principal_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long a process keeps a verified caller (0: never); changes to a "
        "caller's rights reach every process at once regardless.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: list[str] = Field(
        default=[],
        description="Web origins allowed to call the API from a browser (CORS); none by default.",
    )
    max_upload_bytes: int = Field(
        default=20 * 1_048_576, ge=1024, description="Limit for multipart uploads (imports)."
    )
    log_json: bool = False
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    database_pool_size: int = 10
    publication_window_min_days: dict[str, int] = Field(
        default={
            "university": 15,
            "research_institute": 15,
            "enterprise": 7,
            "transfer_agency": 7,
            "platform": 7,
        },
        description="Shortest publication window (公示期) per organization kind, in days.",
    )
    publication_window_max_days: int = 90
    rate_limits: dict[str, int] = Field(
        default={"search": 120, "writes": 1200, "bids": 600},
        description="Requests a minute per caller (API key, person, or address), by route class.",
    )
    rate_limit_storage: Literal["postgres", "memory"] = Field(
        default="postgres",
        description="Where the counts live: PostgreSQL, shared by every API process; `memory` "
        "for a single process (the embedded default sets it).",
    )
    serve_with_worker: bool = Field(
        default=False,
        description="Run the job worker inside each API process (`techx serve --with-worker` "
        "sets it for the processes it starts).",
    )
    meili_url: str | None = None
    meili_key: SecretStr | None = None
    claim_deadline_days: int = Field(
        default=365, ge=1, description="Reward claims close this many days after registration."
    )
    tax_filing_url: str | None = Field(
        default=None,
        description="Where filings are submitted (HTTPS); unset: submission records a manual "
        "filing receipt.",
    )
    tax_filing_token: SecretStr | None = None
    bank_account_name: str = Field(
        default="技术交易市场（示例）",
        description="Offline payments: the receiving account's name.",
    )
    bank_name: str = "示例银行呼和浩特分行"
    bank_account_number: str = "0000 0000 0000 0000 000"
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = Field(
        default=None,
        description="Stripe's API at another address (a fake Stripe server such as localstripe "
        "in tests); unset: https://api.stripe.com.",
    )
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Let webhook endpoints be plain HTTP or local/private hosts (development "
        "only: in production that would let anyone aim our worker at the internal network).",
    )

    @model_validator(mode="after")
    def _no_sandbox_in_production(self) -> Settings:
        if self.sandbox and self.environment == "production":
            raise ValueError("SANDBOX=true is refused with ENVIRONMENT=production")
        return self

    def signing_key(self) -> str:
        """The token-signing secret; in development a random one kept in data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.environment == "production":
            raise RuntimeError("SECRET_KEY must be set in production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
