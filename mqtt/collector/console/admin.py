"""The admin's pages: the console's users (add with roles, reset a forgotten password or a lost
phone, remove), its API tokens (add, shown once; revoke) and the audit, newest first, a page at a
time. What ``kiosk-collector users`` and ``api-token`` do, in the browser; every change is audited
under the admin's name. Admins manage and do not trace: nothing here names a person looked up
beyond the audit's masked ``kind:id``.
"""

from __future__ import annotations

import segno
from flask import Blueprint, g, redirect, render_template, request, url_for

from .accounts import AccountError, NewCredentials
from .messages import text
from .pages import _audit, _console, signed_in
from .roles import ADMIN, ROLES

admin = Blueprint("admin", __name__, url_prefix="/admin")

#: Audit rows a page shows.
AUDIT_PAGE = 100


def _page(error: str | None = None, done: str | None = None, status: int = 200):
    console = _console()
    before = request.args.get("before", "")
    before_id = int(before) if before.isascii() and before.isdigit() else None
    audit = console.store.audit_rows(before_id=before_id, limit=AUDIT_PAGE)
    return render_template("admin.html", users=console.users.list(), tokens=console.tokens.list(), roles=ROLES,
                           audit=list(reversed(audit)), older=audit[0].id if len(audit) == AUDIT_PAGE else None,
                           error=error, done=done), status


@admin.errorhandler(AccountError)
def _refused(exc: AccountError):
    """A change the accounts refused (a taken name, an unknown role, no such token): said on the page."""
    return _page(error=text("admin_refused", g.language, why=str(exc)), status=400)


@admin.get("")
@signed_in(ADMIN)
def overview():
    done = request.args.get("done")
    return _page(done=text(f"admin_{done}", g.language) if done in ("removed", "revoked") else None)


def _credentials(new: NewCredentials, what: str):
    qr = segno.make(new.otpauth_uri, error="m").svg_data_uri(scale=5, border=2)
    return render_template("credentials.html", new=new, qr=qr, what=what)


@admin.post("/users")
@signed_in(ADMIN)
def add_user():
    name, roles = request.form.get("name", ""), request.form.getlist("role")
    new = _console().users.add(name, roles)
    _audit("users_add", query={"user": new.name, "roles": list(roles)})
    return _credentials(new, "added")


@admin.post("/users/reset")
@signed_in(ADMIN)
def reset_user():
    new = _console().users.reset(request.form.get("name", ""))
    _audit("users_reset", query={"user": new.name})
    return _credentials(new, "reset")


@admin.post("/users/remove")
@signed_in(ADMIN)
def remove_user():
    name = request.form.get("name", "").strip()
    if name == g.user.name:
        return _page(error=text("admin_not_yourself", g.language), status=400)
    if request.form.get("confirm") != "yes":
        return _page(error=text("admin_confirm", g.language, name=name), status=400)
    _console().users.remove(name)
    _audit("users_remove", query={"user": name})
    return redirect(url_for("admin.overview", done="removed"), code=303)


@admin.post("/tokens")
@signed_in(ADMIN)
def add_token():
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    token = _console().tokens.add(name, role)
    _audit("api_token_add", query={"token": name, "role": role})
    return render_template("credentials.html", token=token, token_name=name, role=role)


@admin.post("/tokens/revoke")
@signed_in(ADMIN)
def revoke_token():
    name = request.form.get("name", "").strip()
    _console().tokens.revoke(name)
    _audit("api_token_revoke", query={"token": name})
    return redirect(url_for("admin.overview", done="revoked"), code=303)
