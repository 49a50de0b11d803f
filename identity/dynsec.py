"""Mosquitto's dynamic-security plugin: the account file it starts from, and its control topic.

The registry's accounts become plugin clients whose client id is fixed to their username, each
holding one role with the account's grants. Changes go over `$CONTROL/dynamic-security/v1`
with the control account; the plugin disconnects a client the moment it is deleted, disabled
or given a new password.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import UnavailableError
from edge.mqtt import MqttEndpoint, MqttError, close_client, connect, make_client, subscribe_topics
from identity.accounts import Account, AccountKind, ServiceRole
from identity.errors import IdentityError
from identity.grants import CONTROL_RESPONSE_TOPIC, CONTROL_TOPIC, Action, Grant, grants_for
from identity.secrets import SecretHash

log = logging.getLogger(__name__)

# Nothing is allowed unless a role grants it; receiving what one may subscribe to is.
DEFAULT_ACL_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": True,
    "subscribe": False,
    "unsubscribe": True,
}


DEVICE_ROLE_PREFIX = "device:"


class BrokerControlError(IdentityError, UnavailableError):
    """The broker could not be reached or refused an account change; the text says why."""


def role_name(account: Account) -> str:
    """The plugin role holding an account's grants: one per device, one per service role."""
    if account.kind is AccountKind.DEVICE:
        return f"{DEVICE_ROLE_PREFIX}{account.username}"
    assert account.role is not None
    return f"service:{account.role.value}"


def _acl(grant: Grant) -> dict[str, Any]:
    if grant.action is Action.PUBLISH:
        acltype = "publishClientSend"
    else:
        wildcard = "+" in grant.topic.split("/") or grant.topic.endswith("#")
        acltype = "subscribePattern" if wildcard else "subscribeLiteral"
    return {"acltype": acltype, "topic": grant.topic, "allow": True}


def role_document(account: Account) -> dict[str, Any]:
    """The plugin role of `account` with one ACL per grant."""
    acls = [_acl(grant) for grant in grants_for(account)]
    if account.role is ServiceRole.CONTROL:
        # Answers on $CONTROL topics are delivered only where receiving is granted outright.
        acls.append(
            {"acltype": "publishClientReceive", "topic": CONTROL_RESPONSE_TOPIC, "allow": True}
        )
    return {"rolename": role_name(account), "acls": acls}


def client_document(account: Account, secret: SecretHash) -> dict[str, Any]:
    """A plugin client entry for the account file: fixed client id, hashed password, role."""
    return {
        "username": account.username,
        "clientid": account.client_id,
        "textName": account.name,
        "password": secret.hash_b64,
        "salt": secret.salt_b64,
        "iterations": secret.iterations,
        "roles": [{"rolename": role_name(account)}],
    }


def account_file(accounts: Iterable[tuple[Account, SecretHash]]) -> dict[str, Any]:
    """The plugin's whole configuration for these active accounts (revoked ones are left out)."""
    clients: list[dict[str, Any]] = []
    roles: dict[str, dict[str, Any]] = {}
    for account, secret in accounts:
        if not account.active:
            continue
        clients.append(client_document(account, secret))
        roles.setdefault(role_name(account), role_document(account))
    return {
        "defaultACLAccess": DEFAULT_ACL_ACCESS,
        "clients": clients,
        "groups": [],
        "roles": list(roles.values()),
    }


@dataclass(frozen=True, slots=True)
class Answer:
    """The plugin's answer to one command."""

    command: str
    error: str | None
    data: dict[str, Any]


class DynsecControl:
    """Sends commands to the plugin as the control account, one short session per call."""

    def __init__(self, endpoint: MqttEndpoint, *, timeout_s: float = 10.0) -> None:
        """`endpoint` carries the control account's username and secret."""
        if not endpoint.username:
            raise BrokerControlError("the broker control account has no username")
        self._endpoint = endpoint
        self._timeout = timeout_s
        # One session at a time: the control account has one client id.
        self._lock = threading.Lock()

    def execute(self, commands: Sequence[dict[str, Any]]) -> list[Answer]:
        """Run `commands` in order and return the plugin's answer to each."""
        if not commands:
            return []
        tagged = [{**c, "correlationData": uuid.uuid4().hex} for c in commands]
        wanted = {c["correlationData"] for c in tagged}
        answers: dict[str, Answer] = {}
        done = threading.Event()

        def on_response(_topic: str, payload: bytes) -> None:
            """Collect the answers that belong to this call."""
            try:
                responses = json.loads(payload).get("responses", [])
            except (ValueError, AttributeError):
                return
            for item in responses:
                if isinstance(item, dict) and item.get("correlationData") in wanted:
                    answers[item["correlationData"]] = Answer(
                        str(item.get("command")), item.get("error"), item.get("data") or {}
                    )
            if len(answers) == len(wanted):
                done.set()

        with self._lock:
            assert self._endpoint.username is not None
            client = make_client(self._endpoint, self._endpoint.username)
            try:
                connect(client, self._endpoint, timeout=self._timeout)
                refused = subscribe_topics(
                    client, {CONTROL_RESPONSE_TOPIC: on_response}, wait_s=self._timeout
                )
                if refused:
                    raise BrokerControlError(
                        f"{self._endpoint.username} may not read the broker's control answers"
                    )
                info = client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
                info.wait_for_publish(self._timeout)
                if not done.wait(self._timeout):
                    raise BrokerControlError(
                        f"the broker at {self._endpoint} did not answer its control commands "
                        f"within {self._timeout:.0f} s (is the dynamic-security plugin loaded?)"
                    )
            except MqttError as exc:
                raise BrokerControlError(str(exc)) from exc
            except (RuntimeError, ValueError) as exc:
                raise BrokerControlError(f"control commands not delivered: {exc}") from exc
            finally:
                close_client(client, timeout=1.0)
        return [answers[c["correlationData"]] for c in tagged]

    def _checked(self, commands: Sequence[dict[str, Any]], tolerate: str = "") -> list[Answer]:
        """Run commands; raise on the first error unless its text contains `tolerate`."""
        answers = self.execute(commands)
        for answer in answers:
            if answer.error and not (tolerate and tolerate in answer.error):
                raise BrokerControlError(f"the broker refused {answer.command}: {answer.error}")
        return answers

    def ensure_account(self, account: Account, secret: str) -> None:
        """Create the account with its role, or bring an existing one in line (new secret)."""
        self.ensure_accounts([(account, secret)])

    def ensure_accounts(self, accounts: Sequence[tuple[Account, str]]) -> None:
        """`ensure_account` for many accounts in one session (a fleet registered at once)."""
        commands: list[dict[str, Any]] = []
        for account, secret in accounts:
            role = role_document(account)
            commands.append({"command": "createRole", "rolename": role["rolename"]})
            # A role that existed may lack an ACL; adding one it has is refused (tolerated).
            commands += [
                {"command": "addRoleACL", "rolename": role["rolename"], **acl}
                for acl in role["acls"]
            ]
            commands.append(
                {
                    "command": "createClient",
                    "username": account.username,
                    "password": secret,
                    "clientid": account.client_id,
                    "textname": account.name,
                    "roles": [{"rolename": role["rolename"]}],
                }
            )
        answers = self.execute(commands)
        existing: set[str] = set()
        for command, answer in zip(commands, answers, strict=True):
            if answer.error is None or "already" in answer.error:
                if answer.error and command["command"] == "createClient":
                    existing.add(command["username"])
                continue
            raise BrokerControlError(f"the broker refused {answer.command}: {answer.error}")
        stale = [(account, secret) for account, secret in accounts if account.username in existing]
        if not stale:
            return
        # The plugin answers a role given twice with an internal error: look before adding.
        found = self._checked(
            [{"command": "getClient", "username": account.username} for account, _ in stale]
        )
        repairs: list[dict[str, Any]] = []
        for (account, secret), answer in zip(stale, found, strict=True):
            user = account.username
            roles = {r.get("rolename") for r in answer.data.get("client", {}).get("roles", [])}
            repairs.append(
                {"command": "setClientId", "username": user, "clientid": account.client_id}
            )
            if role_name(account) not in roles:
                repairs.append(
                    {"command": "addClientRole", "username": user, "rolename": role_name(account)}
                )
            repairs += [
                {"command": "setClientPassword", "username": user, "password": secret},
                {"command": "enableClient", "username": user},
            ]
        self._checked(repairs, tolerate="already")

    def set_secret(self, username: str, secret: str) -> None:
        """Give a client a new password; the plugin disconnects its live session."""
        self._checked([{"command": "setClientPassword", "username": username, "password": secret}])

    def remove_account(self, username: str) -> None:
        """Delete a client (disconnecting it) and the role of its own a device account has."""
        self._checked([{"command": "deleteClient", "username": username}], tolerate="not found")
        self._checked(
            [{"command": "deleteRole", "rolename": f"{DEVICE_ROLE_PREFIX}{username}"}],
            tolerate="not found",
        )

    def usernames(self) -> list[str]:
        """Every client the plugin knows."""
        (answer,) = self._checked([{"command": "listClients", "verbose": False}])
        return [str(name) for name in answer.data.get("clients", [])]
