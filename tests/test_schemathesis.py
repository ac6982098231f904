"""schemathesis against the real site: the schema tells the truth about every response.

daphne is started as `make run` starts it, with DEBUG off as in production, against the test
database; a member's API token authenticates the run. schemathesis (all checks) generates
requests from /api/schema/ and fails on any response the schema does not describe: a 5xx,
an undocumented status or content type, a response body off its schema, a schema-invalid
request accepted or a schema-valid one refused. A failure prints schemathesis's report, with
a curl command and a `st replay` id for each case.

Bounded and deterministic: a fixed number of examples per operation, generated the same way
on every run (`--generation-deterministic`, one worker). Nothing waits on a clock: the site
has no worker (submitted jobs stay queued) and its rate limits are raised out of reach; the
429s they would answer are documented all the same.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from tests import support

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(900),
    pytest.mark.processes,
]

MAX_EXAMPLES = 25
# CI's run is deterministic (the same cases every time). Set LIKENESS_FUZZ_SEED to explore
# further: random cases from that seed, reproducible with it.
EXPLORE_SEED = os.environ.get("LIKENESS_FUZZ_SEED")
HIGH_RATE = "1000000/minute"
CONFIG = Path(__file__).with_name("schemathesis.toml")


def _portrait(member, public_id: str, **spec):
    """A finished portrait of ``member``'s, stored as the worker stores one, under a fixed id
    (tests/schemathesis.toml names it, so the run reads, edits and remixes a real one)."""
    from generation.services import job_submit
    from portraits.models import Portrait

    job = job_submit(user=member, spec={"prompt": "a lighthouse keeper", "seed": 7, **spec})
    (portrait,) = support.paint_job(job.pk, worker="schemathesis@test")
    Portrait.objects.filter(pk=portrait.pk).update(
        public_id=public_id,
        visibility=Portrait.Visibility.PUBLIC,
        published_at=timezone.now(),
        trending=0.0,
    )
    return Portrait.objects.get(pk=portrait.pk)


@pytest.fixture
def member(make_user, style_presets, tmp_path):
    """The member the run authenticates as, with portraits to work on."""
    from generation.services import model_register

    # The fuzzer's jobs are never run (no worker), so the model's files are never read.
    model_register(
        name="Fuzzed",
        slug="fuzzed",
        source=str(tmp_path / "never-loaded"),
        family="sd",
        limits={"default_width": 64, "default_height": 64, "default_steps": 4},
        make_default=True,
    )
    from allauth.account.models import EmailAddress

    member = make_user("fuzzer")
    # Public profiles are verified members': with these, users/… operations find someone
    # (themself, and a friend they may follow), not only 404s.
    for user in (member, make_user("fuzzed-friend")):
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    _portrait(member, "fuzzed-portrait")
    _portrait(member, "fuzzed-doomed")  # the one DELETE may take
    return member


@pytest.fixture
def fuzzed_site(tmp_path, member):
    port = support.free_port()
    env = support.process_env(
        DEBUG="false",
        SECRET_KEY="schemathesis-only-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        CELERY_BROKER_URL="memory://",
        CELERY_INPROCESS_WORKER="false",
        API_ANON_RATE=HIGH_RATE,
        API_USER_RATE=HIGH_RATE,
        API_REGISTER_RATE=HIGH_RATE,
        API_TOKEN_RATE=HIGH_RATE,
        API_VERIFY_RATE=HIGH_RATE,
        GENERATION_SUBMIT_RATE=HIGH_RATE,
        MODERATION_REPORT_RATE=HIGH_RATE,
        GENERATION_MAX_ACTIVE_JOBS="1000000",
    )
    site = support.daphne(env, tmp_path / "daphne.log", port)
    with support.running(site):
        support.wait_for_port(port, site)
        yield f"http://127.0.0.1:{port}", site


def test_the_api_answers_as_its_schema_says(fuzzed_site, member, tmp_path):
    from accounts.services import api_token_create

    url, site = fuzzed_site
    token, key = api_token_create(user=member, name="schemathesis")
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/api/schema/",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        *(["--seed", EXPLORE_SEED] if EXPLORE_SEED else ["--generation-deterministic"]),
        "--workers",
        "1",
        "--header",
        f"Authorization: Token {key}",
        "--request-timeout",
        "60",
        "--no-color",
        # Reproducers exactly as sent (the token is this test's own, thrown away with it).
        "--output-sanitize",
        "false",
    ]
    env = {
        **os.environ,
        # tests/schemathesis_hooks.py: the run never revokes the token it runs with.
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "LIKENESS_FUZZ_TOKEN_ID": str(token.pk),
        "PYTHONPATH": str(support.ROOT),
    }
    # In tmp_path, so schemathesis's own files stay out of the working tree.
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=800
    )
    report = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(
            f"schemathesis found responses the schema does not describe "
            f"(exit {result.returncode}):\n{report}\n--- daphne log ---\n{support.read_log(site)}",
            pytrace=False,
        )
    # Every operation of the schema was selected and tested, and nothing was found.
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected and len(set(selected.groups())) == 1, report
    # Nothing failed. (A warning may stand: register and token refuse most generated
    # requests, by the password policy and wrong credentials, which JSON Schema cannot state.)
    assert "Failures:" not in report, report
    assert re.search(r"Test cases:\s+(\d+) generated, \1 passed", report), report
