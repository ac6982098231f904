"""Domain errors say what happened (a class and a machine code); config.errors alone says
how each kind answers over HTTP."""

import inspect

import pytest

from accounts import services as account_services
from config import errors, gates
from config.errors import DomainError, http_status_for

# The statuses and codes the API documents (and clients rely on): written out here, not
# read from the classes or the mapping, so a change to the wire shows up as a failing test.
DOCUMENTED = {
    errors.DomainError: (400, "invalid"),
    errors.PermissionDenied: (403, "permission_denied"),
    errors.NotFound: (404, "not_found"),
    errors.Conflict: (409, "conflict"),
    errors.IdempotencyKeyReused: (422, "idempotency_key_reused"),
    errors.QuotaExceeded: (429, "quota_exceeded"),
    account_services.InvalidCredentials: (400, "invalid_credentials"),
    account_services.EmailUnverified: (400, "email_unverified"),
    account_services.TooManyLoginAttempts: (429, "too_many_login_attempts"),
    gates.TextRefused: (400, "text_refused"),
}


def _domain_error_classes(module):
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, DomainError) and cls.__module__ == module.__name__
    ]


def _instance(cls):
    if issubclass(cls, errors.QuotaExceeded):
        return cls("Wait a while.", retry_after=30)
    return cls("Refused.")


def test_every_domain_error_class_is_documented():
    defined = (
        _domain_error_classes(errors)
        + _domain_error_classes(account_services)
        + _domain_error_classes(gates)
    )
    assert set(defined) == set(DOCUMENTED)


@pytest.mark.parametrize("cls", list(DOCUMENTED), ids=lambda cls: cls.__name__)
def test_each_domain_error_answers_with_its_documented_status_and_code(cls):
    status, code = DOCUMENTED[cls]
    error = _instance(cls)
    assert (http_status_for(error), error.code) == (status, code)


@pytest.mark.parametrize("parent", list(DOCUMENTED), ids=lambda cls: cls.__name__)
def test_an_unmapped_subclass_answers_as_its_parent(parent):
    child = type(f"Particular{parent.__name__}", (parent,), {})
    assert http_status_for(_instance(child)) == http_status_for(_instance(parent))
    assert _instance(child).code == _instance(parent).code


def test_domain_errors_carry_no_http():
    for module in (errors, account_services):
        for cls in _domain_error_classes(module):
            assert not {"status", "status_code", "http_status"} & set(vars(cls)), cls
    with pytest.raises(TypeError):
        DomainError("Refused.", status=403)


def test_a_refusal_on_a_page_without_a_form_reads_its_message_then_each_field_error_once():
    refused = errors.DomainError(
        "Please correct the errors below.",
        field_errors={
            "prompt": ["“gore” is not allowed."],
            "negative_prompt": "“gore” is not allowed.",
        },
    )

    assert errors.domain_error_text(refused) == (
        "Please correct the errors below. “gore” is not allowed."
    )
    assert errors.domain_error_text(errors.Conflict("Too late.")) == "Too late."
