"""The installation's container: what ``serve``, ``worker`` and the operator's commands
run with, every adapter chosen by the settings."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version

from dependency_injector import containers, providers
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.files.blob_store import FolderBlobStore
from adapters.geoip.locator import MaxMindGeoLocator, NoGeoLocator
from adapters.geoip.packaged import find_packaged_city_database
from adapters.inprocess.job_queue import CHECK, DELIVER, EXPORT, PROCESS, InProcessJobQueue
from adapters.inprocess.rate_limiter import InMemoryRateLimiter
from adapters.metrics.prometheus import PrometheusMetrics
from adapters.redis_store.rate_limiter import RedisRateLimiter
from adapters.rq_queue.job_queue import RqJobQueue
from adapters.schemas.metadata import JsonSchemaMetadataRules
from adapters.security.secret_key import load_or_create_secret
from adapters.security.signing import (
    Ed25519Signer,
    Ed25519Verifier,
    load_or_create_seed,
    new_seed,
    seed_from,
)
from adapters.security.vault import FernetVault
from adapters.sql import migrate
from adapters.sql.engine import build_engine, ping
from adapters.sql.unit_of_work import SqlUnitOfWork
from adapters.system import SystemClock, TokenSecretGenerator, UlidIdGenerator, jitter
from adapters.webhooks.deliverer import HttpDeliverer
from adapters.webhooks.witness_channel import HttpWitnessChannel
from application.activity import ActivityLog
from application.counting import EventCounter
from application.credential_cache import CredentialCache
from application.transparency import TransparencyLog
from application.use_cases.admit_request import AdmitRequest, FailureMemory
from application.use_cases.alert_rules import (
    CreateAlertRule,
    DeleteAlertRule,
    GetAlertRule,
    ListAlertRules,
    UpdateAlertRule,
)
from application.use_cases.alerts import GetAlert, ListAlerts
from application.use_cases.api_keys import (
    GetApiKey,
    ListApiKeys,
    RevokeApiKey,
    RevokeKeyBySecret,
    RollApiKey,
)
from application.use_cases.apply_retention import ApplyRetention
from application.use_cases.authenticate import Authenticate
from application.use_cases.check_chains import (
    CheckChain,
    GetChainHealth,
    ScheduleChainChecks,
)
from application.use_cases.countersign_log import CountersignLog
from application.use_cases.create_api_key import CreateApiKey
from application.use_cases.delete_workspace import DeleteWorkspace
from application.use_cases.deliver_stream import DeliverStream
from application.use_cases.delivery_status import GetDeliveryStatus
from application.use_cases.delivery_upkeep import DeliveryUpkeep
from application.use_cases.evaluate_alerts import AlertEvaluation
from application.use_cases.event_stats import CountEvents
from application.use_cases.export_upkeep import ExportUpkeep
from application.use_cases.exports import (
    CreateDownloadLink,
    CreateExport,
    GetExport,
    ListExports,
    OpenExportFile,
)
from application.use_cases.get_event import GetEvent
from application.use_cases.ingest_events import IngestEvents
from application.use_cases.log_proofs import ExportEvidence, LogReader
from application.use_cases.log_tiles import LogTiles
from application.use_cases.log_witnesses import (
    AddLogWitness,
    CosignedCheckpoint,
    GetLogWitness,
    ListLogWitnesses,
    RemoveLogWitness,
    RetryLogWitness,
)
from application.use_cases.notify_alerts import NotifyAlerts, SendTestNotification
from application.use_cases.process_pending_events import ProcessPendingEvents
from application.use_cases.processing_status import GetProcessingStatus
from application.use_cases.purge_idempotency_keys import PurgeIdempotencyKeys
from application.use_cases.requeue_pending import RequeuePending
from application.use_cases.reseal_credentials import ResealCredentials
from application.use_cases.retention_status import GetRetentionStatus
from application.use_cases.run_export import RunExport
from application.use_cases.search_events import SearchEvents
from application.use_cases.stream_deliveries import (
    ListDeliveries,
    ReplayStream,
    SendTestDelivery,
)
from application.use_cases.stream_fanout import StreamFanout
from application.use_cases.streams import (
    CreateStream,
    DeleteStream,
    GetStream,
    ListStreams,
    UpdateStream,
)
from application.use_cases.usage import GetUsage
from application.use_cases.verify_chain import VerifyChain
from application.use_cases.viewer_links import (
    CreateViewerLink,
    GetViewerLink,
    ListViewerLinks,
    RevokeViewerLink,
)
from application.use_cases.witness_submissions import SubmitToWitness, WakeWitnesses, WitnessHealth
from application.use_cases.workspace_settings import GetWorkspace, UpdateWorkspace
from application.use_cases.workspaces import (
    CreateWorkspace,
    ListWorkspaces,
    UpdateWorkspacePlan,
)
from entrypoints.settings import Settings

PROCESS_JOB = "entrypoints.worker.jobs.process_workspace"
EXPORT_JOB = "entrypoints.worker.jobs.run_export"
DELIVER_JOB = "entrypoints.worker.jobs.deliver"
CHECK_JOB = "entrypoints.worker.jobs.check_chain"


def _secret_key(settings: Settings) -> bytes:
    settings.check_production_secrets()
    if settings.secret_key:
        return settings.secret_key.encode()
    return load_or_create_secret(settings.secret_key_file)


def _geoip_path(settings: Settings) -> str:
    """``AUDITRAIL_GEOIP_DB``, else a GeoLite2 City database from an installed package;
    "" when there is neither. Never None: a Singleton does not keep a None, so every
    processing job would search the import path for data packages again."""
    return settings.geoip_db or find_packaged_city_database() or ""


def _geo_mode(path: str) -> str:
    return "maxmind" if path else "none"


def _signer(settings: Settings) -> Ed25519Signer:
    """The installation's key: the setting, else (embedded only) a key generated into the
    data folder. Never from the database."""
    settings.check_production_secrets()
    if settings.signing_key:
        return Ed25519Signer(seed_from(settings.signing_key))
    return Ed25519Signer(load_or_create_seed(settings.signing_key_file))


def _previous_signers(settings: Settings, signer: Ed25519Signer) -> list[Ed25519Signer]:
    """The keys the signing key replaced; the key itself is never among them (refused at
    start by the settings, skipped here for any other caller)."""
    return [previous for previous in (Ed25519Signer(seed_from(key))
                                      for key in settings.previous_signing_keys)
            if previous.public_key() != signer.public_key()]


def _lease(settings: Settings) -> timedelta:
    """How long a delivery job holds its stream: well past the longest an attempt may
    take, so that only a job that died gives it up."""
    return timedelta(seconds=2 * settings.delivery_timeout_seconds + 10)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    profile = providers.Callable(lambda settings: settings.profile, settings)

    engine = providers.Singleton(build_engine, settings.provided.effective_database_url)
    uow = providers.Factory(SqlUnitOfWork, engine=engine)
    database_ping = providers.Callable(ping, engine)
    upgrade_database = providers.Callable(migrate.upgrade, engine)
    missing_migrations = providers.Callable(migrate.missing_revisions, engine)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdGenerator)
    secrets = providers.Singleton(TokenSecretGenerator)

    redis = providers.Singleton(Redis.from_url, settings.provided.redis_url,
                                socket_timeout=5, socket_connect_timeout=2,
                                health_check_interval=30)
    job_queue = providers.Selector(
        profile,
        embedded=providers.Singleton(InProcessJobQueue),
        production=providers.Singleton(RqJobQueue, redis=redis, job_path=PROCESS_JOB,
                                       export_job_path=EXPORT_JOB,
                                       delivery_job_path=DELIVER_JOB,
                                       check_job_path=CHECK_JOB,
                                       queue_name=settings.provided.queue_name,
                                       delivery_timeout=1800),
    )
    # Every request waits for the limiter: its client fails fast (one retry, no backoff),
    # where the queue's may take its time.
    limiter_redis = providers.Singleton(Redis.from_url, settings.provided.redis_url,
                                        socket_timeout=0.5, socket_connect_timeout=0.5,
                                        retry=providers.Object(Retry(NoBackoff(), 1)),
                                        health_check_interval=30)
    metrics = providers.Singleton(PrometheusMetrics)
    rate_limiter = providers.Selector(
        profile,
        embedded=providers.Singleton(InMemoryRateLimiter),
        production=providers.Singleton(
            RedisRateLimiter, redis=limiter_redis,
            prefix=providers.Callable(lambda s: f"{s.queue_name}:ratelimit:", settings),
            on_fail_open=metrics.provided.limiter_failed_open),
    )
    blob_store = providers.Singleton(FolderBlobStore, settings.provided.exports_dir)
    secret_key = providers.Singleton(_secret_key, settings)
    previous_secret_keys = providers.Callable(
        lambda s: tuple(key.encode() for key in s.previous_secret_keys), settings)
    export_lifetime = providers.Callable(
        lambda s: timedelta(seconds=s.export_ttl_seconds), settings)
    link_lifetime = providers.Callable(
        lambda s: timedelta(seconds=s.download_link_ttl_seconds), settings)
    geoip_path = providers.Singleton(_geoip_path, settings)
    geo = providers.Selector(
        providers.Callable(_geo_mode, geoip_path),
        maxmind=providers.Singleton(MaxMindGeoLocator, geoip_path,
                                    on_corrupt_data=metrics.provided.geo_data_corrupt),
        none=providers.Singleton(NoGeoLocator),
    )

    authenticate = providers.Factory(Authenticate, uow_factory=uow.provider, clock=clock)
    failure_memory = providers.Singleton(FailureMemory, clock=clock)
    credential_cache = providers.Singleton(
        CredentialCache, clock=clock,
        max_age=providers.Callable(lambda s: timedelta(seconds=s.auth_cache_seconds), settings))
    # Every API request runs these two: built once per container rather than per request
    # (about 5 % of a single event's cost). Tests that swap the clock do so before using them.
    admit_request = providers.Singleton(AdmitRequest, authenticate=authenticate,
                                        limiter=rate_limiter, failures=failure_memory,
                                        credentials=credential_cache, metrics=metrics)
    processing_status = providers.Factory(GetProcessingStatus, uow_factory=uow.provider,
                                          clock=clock, queue=job_queue)
    get_event = providers.Factory(GetEvent, uow_factory=uow.provider)
    signer = providers.Singleton(_signer, settings)
    signature_checker = providers.Singleton(Ed25519Verifier)
    new_signing_key = providers.Callable(new_seed)
    transparency_log = providers.Singleton(
        TransparencyLog, uow_factory=uow.provider, signer=signer, checker=signature_checker,
        clock=clock, log_name=settings.provided.effective_log_name,
        cadence=providers.Callable(lambda s: timedelta(seconds=s.checkpoint_seconds),
                                   settings),
        previous=providers.Callable(_previous_signers, settings, signer))
    metadata_rules = providers.Singleton(JsonSchemaMetadataRules)
    ingest_events = providers.Singleton(IngestEvents, uow_factory=uow.provider, clock=clock,
                                        ids=ids, queue=job_queue,
                                        keys=transparency_log.provided.keys,
                                        rules=metadata_rules, metrics=metrics)
    log_reader = providers.Factory(LogReader, uow_factory=uow.provider, log=transparency_log)
    log_tiles = providers.Factory(LogTiles, uow_factory=uow.provider, log=transparency_log)
    countersign_log = providers.Factory(CountersignLog, uow_factory=uow.provider,
                                        keys=transparency_log.provided.keys, clock=clock)
    export_evidence = providers.Factory(ExportEvidence, uow_factory=uow.provider,
                                        log=transparency_log)
    verify_chain = providers.Factory(VerifyChain, uow_factory=uow.provider,
                                     log=transparency_log)
    event_counter = providers.Singleton(EventCounter)
    search_events = providers.Factory(SearchEvents, uow_factory=uow.provider,
                                      counter=event_counter,
                                      time_limit=settings.provided.query_timeout_seconds)
    count_events = providers.Factory(CountEvents, uow_factory=uow.provider,
                                     time_limit=settings.provided.query_timeout_seconds)
    # In the contract's order: alert evaluation, then log-stream fan-out (§5.2); then the
    # checkpoint, when one is due.
    alert_evaluation = providers.Singleton(AlertEvaluation, ids=ids, clock=clock,
                                           queue=job_queue, metrics=metrics)
    stream_fanout = providers.Singleton(StreamFanout, queue=job_queue)
    process_pending_events = providers.Factory(
        ProcessPendingEvents, uow_factory=uow.provider, geo=geo,
        chunk_handlers=providers.List(alert_evaluation, stream_fanout,
                                      transparency_log.provided.sign_linked),
        metrics=metrics)
    requeue_pending = providers.Factory(
        RequeuePending, uow_factory=uow.provider, clock=clock, queue=job_queue,
        stale_after=providers.Callable(lambda s: timedelta(seconds=s.requeue_after_seconds),
                                       settings))
    apply_retention = providers.Factory(ApplyRetention, uow_factory=uow.provider, clock=clock,
                                        log=transparency_log)
    retention_status = providers.Factory(GetRetentionStatus, uow_factory=uow.provider,
                                         clock=clock)
    purge_idempotency_keys = providers.Factory(PurgeIdempotencyKeys, uow_factory=uow.provider,
                                               clock=clock)
    activity_log = providers.Singleton(ActivityLog, clock=clock, ids=ids, queue=job_queue)
    chain_check_interval = providers.Callable(
        lambda s: timedelta(hours=s.chain_check_hours) if s.chain_check_hours else None,
        settings)
    schedule_chain_checks = providers.Factory(
        ScheduleChainChecks, uow_factory=uow.provider, clock=clock, queue=job_queue,
        every=chain_check_interval, metrics=metrics,
        asked_again_after=providers.Callable(
            lambda s: timedelta(minutes=s.chain_check_request_minutes), settings))
    chain_health = providers.Factory(GetChainHealth, uow_factory=uow.provider, clock=clock,
                                     every=chain_check_interval)
    check_chain = providers.Factory(CheckChain, uow_factory=uow.provider, clock=clock,
                                    verify=verify_chain, activity=activity_log)
    create_api_key = providers.Factory(CreateApiKey, uow_factory=uow.provider, clock=clock,
                                       ids=ids, secrets=secrets, activity=activity_log)
    create_workspace = providers.Factory(CreateWorkspace, uow_factory=uow.provider,
                                         clock=clock, ids=ids, create_key=create_api_key,
                                         activity=activity_log)
    update_workspace_plan = providers.Factory(UpdateWorkspacePlan, uow_factory=uow.provider,
                                              changes=rate_limiter, activity=activity_log)
    delete_workspace = providers.Factory(DeleteWorkspace, uow_factory=uow.provider,
                                         blobs=blob_store, clock=clock, changes=rate_limiter)
    get_workspace = providers.Factory(GetWorkspace, uow_factory=uow.provider)
    update_workspace = providers.Factory(UpdateWorkspace, uow_factory=uow.provider,
                                         changes=rate_limiter, activity=activity_log,
                                         rules=metadata_rules)
    list_api_keys = providers.Factory(ListApiKeys, uow_factory=uow.provider)
    get_api_key = providers.Factory(GetApiKey, uow_factory=uow.provider)
    revoke_api_key = providers.Factory(RevokeApiKey, uow_factory=uow.provider, clock=clock,
                                       changes=rate_limiter, activity=activity_log)
    roll_api_key = providers.Factory(RollApiKey, uow_factory=uow.provider, clock=clock,
                                     create_key=create_api_key, changes=rate_limiter,
                                     activity=activity_log)
    create_viewer_link = providers.Factory(CreateViewerLink, uow_factory=uow.provider,
                                           clock=clock, ids=ids, secrets=secrets,
                                           activity=activity_log)
    list_viewer_links = providers.Factory(ListViewerLinks, uow_factory=uow.provider)
    get_viewer_link = providers.Factory(GetViewerLink, uow_factory=uow.provider)
    revoke_viewer_link = providers.Factory(RevokeViewerLink, uow_factory=uow.provider,
                                           clock=clock, changes=rate_limiter,
                                           activity=activity_log)
    revoke_key_by_secret = providers.Factory(RevokeKeyBySecret, uow_factory=uow.provider,
                                             revoke_key=revoke_api_key,
                                             revoke_link=revoke_viewer_link)
    create_export = providers.Factory(CreateExport, uow_factory=uow.provider, clock=clock,
                                      ids=ids, queue=job_queue, activity=activity_log)
    get_export = providers.Factory(GetExport, uow_factory=uow.provider)
    list_exports = providers.Factory(ListExports, uow_factory=uow.provider)
    create_download_link = providers.Factory(CreateDownloadLink, get_export=get_export,
                                             clock=clock, secret=secret_key,
                                             lifetime=link_lifetime)
    open_export_file = providers.Factory(OpenExportFile, uow_factory=uow.provider,
                                         blobs=blob_store, clock=clock, secret=secret_key,
                                         previous_secrets=previous_secret_keys)
    run_export = providers.Factory(RunExport, uow_factory=uow.provider, blobs=blob_store,
                                   clock=clock, lifetime=export_lifetime, metrics=metrics)
    export_upkeep = providers.Factory(
        ExportUpkeep, uow_factory=uow.provider, blobs=blob_store, clock=clock, queue=job_queue,
        requeue_after=providers.Callable(lambda s: timedelta(seconds=s.requeue_after_seconds),
                                         settings))
    get_usage = providers.Factory(GetUsage, uow_factory=uow.provider, clock=clock,
                                  limiter=rate_limiter, counter=event_counter)
    list_workspaces = providers.Factory(ListWorkspaces, uow_factory=uow.provider)

    vault = providers.Singleton(FernetVault, secret_key, previous_secret_keys)
    reseal_credentials = providers.Factory(ResealCredentials, uow_factory=uow.provider,
                                           vault=vault)
    deliverer = providers.Singleton(
        HttpDeliverer, allow_private=settings.provided.allow_private_destinations,
        timeout_seconds=settings.provided.delivery_timeout_seconds,
        user_agent=providers.Callable(lambda: f"Auditrail/{version('auditrail')}"))
    allow_private = providers.Callable(lambda s: s.allow_private_destinations, settings)
    create_stream = providers.Factory(CreateStream, uow_factory=uow.provider, clock=clock,
                                      ids=ids, secrets=secrets, vault=vault,
                                      deliverer=deliverer, allow_private=allow_private,
                                      activity=activity_log)
    get_stream = providers.Factory(GetStream, uow_factory=uow.provider)
    list_streams = providers.Factory(ListStreams, uow_factory=uow.provider)
    update_stream = providers.Factory(UpdateStream, uow_factory=uow.provider, clock=clock,
                                      queue=job_queue, vault=vault, deliverer=deliverer,
                                      allow_private=allow_private, activity=activity_log)
    delete_stream = providers.Factory(DeleteStream, uow_factory=uow.provider,
                                      activity=activity_log)
    list_deliveries = providers.Factory(ListDeliveries, uow_factory=uow.provider)
    replay_stream = providers.Factory(ReplayStream, uow_factory=uow.provider, clock=clock,
                                      queue=job_queue, activity=activity_log)
    send_test_delivery = providers.Factory(SendTestDelivery, uow_factory=uow.provider,
                                           deliverer=deliverer, vault=vault, clock=clock,
                                           ids=ids, metrics=metrics)
    deliver_stream = providers.Factory(
        DeliverStream, uow_factory=uow.provider, deliverer=deliverer, vault=vault,
        queue=job_queue, clock=clock, ids=ids, random=providers.Object(jitter),
        activity=activity_log,
        linger=providers.Callable(lambda s: timedelta(seconds=s.stream_batch_seconds),
                                  settings),
        lease=providers.Callable(_lease, settings), metrics=metrics)
    notify_alerts = providers.Factory(
        NotifyAlerts, uow_factory=uow.provider, deliverer=deliverer, vault=vault,
        queue=job_queue, clock=clock, random=providers.Object(jitter), activity=activity_log,
        lease=providers.Callable(_lease, settings), metrics=metrics)
    send_test_notification = providers.Factory(
        SendTestNotification, uow_factory=uow.provider, deliverer=deliverer, vault=vault,
        clock=clock, ids=ids, metrics=metrics)
    delivery_upkeep = providers.Factory(
        DeliveryUpkeep, uow_factory=uow.provider, clock=clock, queue=job_queue,
        log_retention=providers.Callable(lambda s: timedelta(days=s.delivery_log_days),
                                         settings))
    delivery_status = providers.Factory(GetDeliveryStatus, uow_factory=uow.provider,
                                        clock=clock)
    create_alert_rule = providers.Factory(CreateAlertRule, uow_factory=uow.provider,
                                          clock=clock, ids=ids, secrets=secrets, vault=vault,
                                          deliverer=deliverer, allow_private=allow_private,
                                          activity=activity_log)
    get_alert_rule = providers.Factory(GetAlertRule, uow_factory=uow.provider)
    list_alert_rules = providers.Factory(ListAlertRules, uow_factory=uow.provider)
    update_alert_rule = providers.Factory(UpdateAlertRule, uow_factory=uow.provider,
                                          clock=clock, queue=job_queue, vault=vault,
                                          deliverer=deliverer, allow_private=allow_private,
                                          activity=activity_log)
    delete_alert_rule = providers.Factory(DeleteAlertRule, uow_factory=uow.provider,
                                          clock=clock, activity=activity_log)
    list_alerts = providers.Factory(ListAlerts, uow_factory=uow.provider)
    get_alert = providers.Factory(GetAlert, uow_factory=uow.provider)

    witness_channel = providers.Singleton(
        HttpWitnessChannel, allow_private=settings.provided.allow_private_destinations,
        timeout_seconds=settings.provided.delivery_timeout_seconds,
        user_agent=providers.Callable(lambda: f"Auditrail/{version('auditrail')}"))
    add_log_witness = providers.Factory(AddLogWitness, uow_factory=uow.provider, clock=clock,
                                        ids=ids, channel=witness_channel, queue=job_queue,
                                        allow_private=allow_private, activity=activity_log)
    get_log_witness = providers.Factory(GetLogWitness, uow_factory=uow.provider)
    list_log_witnesses = providers.Factory(ListLogWitnesses, uow_factory=uow.provider)
    remove_log_witness = providers.Factory(RemoveLogWitness, uow_factory=uow.provider,
                                           activity=activity_log)
    retry_log_witness = providers.Factory(RetryLogWitness, uow_factory=uow.provider,
                                          queue=job_queue)
    cosigned_checkpoint = providers.Factory(CosignedCheckpoint, uow_factory=uow.provider)
    witness_health = providers.Factory(WitnessHealth, uow_factory=uow.provider, clock=clock)
    wake_witnesses = providers.Factory(WakeWitnesses, uow_factory=uow.provider, clock=clock,
                                       queue=job_queue)
    submit_to_witness = providers.Factory(
        SubmitToWitness, uow_factory=uow.provider, log=transparency_log,
        channel=witness_channel, checker=signature_checker, queue=job_queue, clock=clock,
        random=providers.Object(jitter), lease=providers.Callable(_lease, settings),
        activity=activity_log, metrics=metrics)


__all__ = ["CHECK", "DELIVER", "EXPORT", "PROCESS", "Container", "build_container"]


def build_container(settings: Settings) -> Container:
    """A new container for one process (or one test)."""
    return Container(settings=settings)
