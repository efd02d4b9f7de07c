"""One Settings object for every process: API, workers, CLI and the dev runner.

Secrets come from the environment (or `.env`). In dev mode any secret left unset is generated
once into `<data_dir>/secrets.json`, so restarts keep the same keys and the same S3 data.
Production refuses to start without them, so a forgotten variable never means a random key.
"""

import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FIELDS = ("s3_access_key", "s3_secret_key", "secret_key", "signing_key")


class MissingSecretError(RuntimeError):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MVQ_", env_file=".env", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    data_dir: Path = Path(".data")

    database_url: str = ""
    redis_url: str = ""
    # The dev Redis's password (generated into secrets.json); ignored when MVQ_REDIS_URL is set.
    redis_password: SecretStr | None = None
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "mvq"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    signing_key: SecretStr | None = None
    # A scraper off this host sends it as a bearer token; loopback needs none.
    metrics_token: SecretStr | None = None
    # The reverse proxies whose X-Forwarded-For/-Proto the API believes (uvicorn's
    # --forwarded-allow-ips: addresses or networks, comma-separated). Empty: none, so the
    # client address (per-client login throttle, /metrics' loopback check) is the TCP peer's.
    forwarded_allow_ips: str = ""

    # Listening ports of the dev stack; each is movable so two stacks can run side by side.
    host: str = "127.0.0.1"
    port: int = 8000
    redis_port: int = 6379
    s3_port: int = 8333
    weed_master_port: int = 9333
    weed_volume_port: int = 8080
    weed_filer_port: int = 8888
    weed_webdav_port: int = 7333
    weed_admin_port: int = 23646
    workers: int = 2
    # The dev stack's witness (mvq witness), its own process with its own directory.
    witness_port: int = 8790
    # The witnesses every checkpoint goes to, "URL PUBLIC_KEY" each, comma-separated
    # (mvq.audit.witnesses); `mvq audit verify` checks the log against what they hold.
    witnesses: str = ""

    # Postgres backups (mvq.backup.postgres): "pgbackrest" archives every WAL segment and
    # keeps base backups with pgBackRest, and tells a restore where they are; empty: none
    # configured here (nothing changes). The dev runner then starts Postgres itself.
    pg_backup: Literal["", "pgbackrest"] = ""
    # pgBackRest's configuration (default: the dev runner's, dev_postgres_dir) and stanza.
    pgbackrest_config: Path | None = None
    pgbackrest_stanza: str = "mvq"
    # A WAL segment is archived at least this often while anything is written: about the
    # most a lost database host costs (the recovery point). Postgres's own default is never.
    pg_archive_timeout_seconds: int = Field(default=60, ge=1)
    # The dev runner's Postgres (with MVQ_PG_BACKUP): its port, the bucket its backups go to,
    # and the HTTPS port SeaweedFS serves S3 on for pgBackRest, whose S3 client speaks only
    # HTTPS (a self-signed certificate made at each start).
    pg_port: int = 5433
    pgbackrest_bucket: str = "mvq-pgbackrest"
    s3_https_port: int = 8334

    presign_ttl_seconds: int = 300
    # A staged chunk's URL (mvq.media.chunks) is asked for just before it is sent: it need live
    # only as long as a few chunks take on a slow link (never longer than presign_ttl_seconds).
    chunk_url_ttl_seconds: int = Field(default=120, ge=1)
    max_upload_bytes: int = 8 * 1024**3
    # Files above this go up in parts, so a broken link costs one part, not the whole file.
    multipart_threshold_bytes: int = 16 * 1024**2
    part_size_bytes: int = Field(default=8 * 1024**2, ge=5 * 1024**2)  # S3's floor is 5 MiB
    abandoned_upload_hours: float = 24
    create_rate_per_minute: int = 60
    # A claim is one strike's footage: a few clips, angles or recorders. 20 files and 20 GiB
    # declared (two files at the 8 GiB ceiling and change) cover that with room to spare, and
    # bound what one claim can make storage prepare: each large file is a multipart upload
    # and up to 1,024 presigned URLs. New registrations (not a resumed one) are counted per
    # unit a minute, as claims are.
    max_files_per_claim: int = Field(default=20, ge=1)
    max_claim_bytes: int = Field(default=20 * 1024**3, ge=1)
    register_rate_per_minute: int = Field(default=60, ge=1)
    max_request_body_bytes: int = 1024**2
    media_job_timeout_seconds: int = 1800
    ffmpeg_timeout_seconds: float = 120
    ffmpeg_memory_bytes: int = 2 * 1024**3
    # Media limits: anything beyond is failed with too_long / too_large, never half-processed.
    max_duration_seconds: int = 30 * 60
    max_video_pixels: int = 8192 * 4320
    max_image_pixels: int = 64_000_000
    frame_fps: float = 1.0
    max_frames: int = 600
    # How far the file's own capture time and position may sit from the claim before a flag.
    capture_tolerance_minutes: float = 120
    location_tolerance_km: float = 5
    # A drone's on-screen display (time, place burned into the picture; media/ingest/ocr.py):
    # stills read per file (0 turns reading off), and how far it may sit from the claim before
    # an osd_mismatch flag. Its position is the drone's own, which stands off its target by a few
    # kilometres, hence the wider tolerance than the file's. Its clock's zone is rarely shown: a
    # time agrees if any of these UTC offsets (hours) brings it within the tolerance (Kyiv's
    # winter and summer time, and UTC), and the first is the one a capture time is read in.
    osd_stills: int = Field(default=3, ge=0, le=10)
    osd_tolerance_minutes: float = 120
    osd_tolerance_km: float = 10
    osd_clock_offsets_hours: tuple[float, ...] = (2.0, 3.0, 0.0)
    # Near-duplicate matching: PDQ bits that may differ for two frames to match (exact search up
    # to 32, PDQ's own 31), and the clip rule (matching.service.ClipRule): at least
    # `match_min_frames` matched frames (fewer when a clip has fewer) making `match_min_share`
    # of the other clip's stills over the stretch both show, or of this clip's probes. The rule
    # was tuned in bench/robustness.py on half its sources (seed 15) and is the one reported on
    # the other half: no false positive over 26,694 unrelated pairs (docs/BENCHMARKS.md).
    match_threshold: int = Field(default=31, ge=0, le=32)
    match_min_share: float = 0.3
    match_min_frames: int = 2
    # The shared frame index (matching/segments.py): where this host keeps its segments
    # (default <data_dir>/index), how often a worker looks for a new segment list, and the
    # compaction job's policy (matching/compaction.py): a new segment once the tail holds
    # `index_segment_rows` rows; segments under `index_small_rows` merged two at a time, and
    # `index_merge_fanin` bigger ones of one size tier merged into one of the next.
    index_dir: Path | None = None
    index_prefix: str = "index"  # where in the bucket the segments and their list live
    index_refresh_seconds: float = 60
    index_segment_rows: int = Field(default=16_384, ge=1)
    index_small_rows: int = Field(default=1_048_576, ge=1)
    index_merge_fanin: int = Field(default=4, ge=2)
    # No merge makes a segment bigger (a packed table's positions are 24 bits: index.py).
    index_max_segment_rows: int = Field(default=1 << 24, ge=1, le=1 << 24)
    # The same for the keyframes' descriptors (matching/features.py), counted in keyframes: one
    # holds about 400 descriptors, 80 bytes each with its tables, so a worker's tail stays under
    # about 3 MB, and a small segment rewritten on each merge under about 35 MB.
    keyframe_segment_rows: int = Field(default=64, ge=1)
    keyframe_small_rows: int = Field(default=1_024, ge=1)
    # The re-hash of rows indexed before the current scheme (matching/rehash.py): rows a
    # transaction (a killed run redoes at most these), and how long one queued job runs before
    # it returns, so that compactions on the same queue are not held up behind a backlog of
    # hours; the sweeper enqueues the next while old rows are left.
    index_rehash_batch: int = Field(default=500, ge=1)
    index_rehash_job_seconds: float = Field(default=900, gt=0)
    # Retired segments stay in S3 this long, for workers still on the old list.
    index_retired_keep_seconds: float = 3600
    lease_seconds: int = 600
    # An item a senior hands to a named reviewer stays theirs this long before it returns to
    # the queue (a working day's shift, not the ten minutes of one look); their page's
    # heartbeat then renews it by `lease_seconds` as for any claim.
    reassign_lease_seconds: int = 8 * 3600
    # A reviewer's page with no input for this long gives its lease back (and says so).
    review_idle_seconds: int = 300
    # A reviewer may take back their own last decision for this long, before it is final.
    undo_seconds: int = 10
    # Reviewers whose median time per item is below this are marked on the stats page.
    min_median_seconds_per_item: float = 10
    # A verdict (approve, reject) given before the claim's footage was shown, or sooner after
    # the claim than its floor, asks for a second key and is refused without it (the API too):
    # the floor is this share of the footage's length, at least the minimum and at most the
    # maximum. Off only where a test decides at machine speed on purpose.
    fast_decision_warnings: bool = True
    decision_floor_share: float = Field(default=0.5, ge=0, le=1)
    decision_floor_min_seconds: float = Field(default=5, ge=0)
    decision_floor_max_seconds: float = Field(default=60, ge=0)
    # After this long deciding without a pause of `break_gap_minutes`, the queue and the item
    # page suggest a break.
    break_after_minutes: float = Field(default=90, gt=0)
    break_gap_minutes: float = Field(default=10, gt=0)
    # A map tile URL template ({z}/{x}/{y}) for the position map; none: the country outlines
    # shipped with the site (web/static/vendor/countries-land-10km-*), and no request leaves
    # the browser for the map.
    map_tile_url: str | None = None
    # A claim worth at least this many points needs a second approval by another reviewer.
    four_eyes_points: int = 50
    # Quality checks (mvq.review.qa): the share of claims from the queue that are golden items
    # (known answers, 1 in 50), and the share of final live decisions sent to a blind second
    # look. Between 0 and 1.
    golden_rate: float = Field(default=0.02, ge=0, le=1)
    rereview_rate: float = Field(default=0.02, ge=0, le=1)
    # Failed logins allowed per e-mail address (and 4x that per client address) in a window.
    login_failures_allowed: int = 5
    login_window_seconds: int = 900
    # Seniors, admins, auditors and the marketplace always sign in with a second factor (TOTP);
    # reviewers only when this says so (a reviewer may enrol anyway). Unit members never.
    reviewer_totp_required: bool = False
    session_hours: float = 12
    # Claims by different units of the same target type this close in time and place are
    # one dispute: their awards wait for a senior to assign the credit.
    dispute_window_minutes: float = 60
    dispute_distance_km: float = 1.0
    # Target types that may be one target seen by different units (a tank is often called an
    # "armoured vehicle"): each group is compatible within itself, and a type is always
    # compatible with itself. Claims of incompatible types never share a dispute.
    target_compatibility: list[list[str]] = Field(
        default_factory=lambda: [["tank", "armoured_vehicle"], ["apc", "armoured_vehicle"]]
    )
    # A unit may appeal a rejected claim once, within this many days of the rejection.
    appeal_window_days: float = 14
    # Pages in this language unless the user chose one or the browser asks for another.
    default_language: str = "uk"
    # Times on the pages are shown in this zone (IANA name) unless the user chose their own.
    default_time_zone: str = "Europe/Kyiv"
    # The sweeper re-enqueues uploaded media that no job picked up within this many seconds.
    stuck_after_seconds: int = 30
    sweep_interval_seconds: int = 15
    # Job runs (RQ retries and sweeper re-runs together) before a file is failed for good.
    max_processing_attempts: int = 8
    # Webhooks: the pause before each retry of a failed delivery (one try more than there are
    # pauses, then the delivery is failed, and replayable), and how long a rotated-out secret
    # keeps signing alongside the new one.
    webhook_retry_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0, 3 * 3600.0, 6 * 3600.0]
    )
    webhook_secret_grace_hours: float = 24
    # Pruning (mvq.pruning, run by every sweep and by `mvq prune`). A delivered webhook
    # delivery, its tries and, once every delivery of it went, its event are kept this many days
    # after delivery, for the endpoint's delivery log and replays; pending and failed ones stay.
    webhook_retention_days: float = Field(default=30, gt=0)
    # Sessions and staff sign-in tokens this long past their end (expiry or logout), and used
    # recovery codes this long after use: long enough that "your session expired" is still
    # told apart from an unknown token, and that a recent sign-in can be looked into.
    credential_retention_days: float = Field(default=7, gt=0)
    # Rows removed per transaction: no prune holds a long transaction, whatever its backlog;
    # and at most this many batches of each kind a sweep, so a first sweep over years of rows
    # still ends soon (the next sweeps, or `mvq prune`, take the rest).
    # At most 10,000: a batch's rows are bound parameters of its DELETEs (Postgres takes
    # 65,535 a statement), and a batch is one short transaction.
    prune_batch_rows: int = Field(default=1000, ge=1, le=10_000)
    prune_batches_per_sweep: int = Field(default=20, ge=1)
    # Backups (mvq.backup): where `mvq backup` writes the SQLite database's online copies
    # (default <data_dir>/backups), the bucket it copies the originals and checkpoints into (in
    # dev on the same SeaweedFS; in production, a replicated bucket elsewhere), and how many
    # originals `mvq restore-drill` re-hashes from it unless told otherwise.
    backup_dir: Path | None = None
    backup_bucket: str = "mvq-backup"
    drill_sample: int = Field(default=50, ge=0)

    @model_validator(mode="after")
    def _fill_defaults(self) -> "Settings":
        # Absolute from the start: the dev runner starts children in other working
        # directories (SeaweedFS in its config directory), where a relative path means
        # somewhere else.
        self.data_dir = self.data_dir.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'mvq.db').resolve()}"
        if not self.redis_url:
            if self.redis_password is None and self.env == "dev":
                self.redis_password = SecretStr(_dev_secrets(self.data_dir)["redis_password"])
            auth = f":{self.secret('redis_password')}@" if self.redis_password else ""
            self.redis_url = f"redis://{auth}127.0.0.1:{self.redis_port}/0"
        if self.index_dir is None:
            self.index_dir = self.data_dir / "index"
        self.backup_dir = (self.backup_dir or self.data_dir / "backups").resolve()
        self.index_dir = self.index_dir.resolve()
        if self.pgbackrest_config is None:
            self.pgbackrest_config = dev_postgres_dir(self.data_dir) / "pgbackrest.conf"
        self.pgbackrest_config = self.pgbackrest_config.resolve()
        if not self.s3_endpoint_url:
            self.s3_endpoint_url = f"http://127.0.0.1:{self.s3_port}"
        missing = [name for name in SECRET_FIELDS if getattr(self, name) is None]
        if missing and self.env == "production":
            names = ", ".join(f"MVQ_{n.upper()}" for n in missing)
            raise MissingSecretError(f"production mode needs explicit secrets: {names}")
        if missing:
            stored = _dev_secrets(self.data_dir)
            for name in missing:
                setattr(self, name, SecretStr(stored[name]))
        return self

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        assert isinstance(value, SecretStr)
        return value.get_secret_value()


def dev_postgres_dir(data_dir: Path) -> Path:
    """Where the dev runner keeps its Postgres cluster and pgBackRest's files (MVQ_PG_BACKUP):
    in the data directory; under root beside it, since Postgres then runs as the postgres
    user, whom the owner-only data directory keeps out."""
    if os.geteuid() == 0:
        return data_dir.with_name(f"{data_dir.name}-postgres")
    return data_dir / "postgres"


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
    else:
        stored = {}
    fresh = {
        "s3_access_key": "mvq" + secrets.token_hex(8),
        "s3_secret_key": secrets.token_urlsafe(32),
        "secret_key": secrets.token_urlsafe(48),
        "signing_key": secrets.token_hex(32),
        "redis_password": secrets.token_hex(24),
    }
    if all(name in stored for name in fresh):
        return stored
    stored = fresh | stored
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written owner-only: these keys open the whole dev stack.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(stored, fh)
    return stored


@lru_cache
def get_settings() -> Settings:
    return Settings()
