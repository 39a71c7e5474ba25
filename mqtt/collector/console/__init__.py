"""The tracing console: a web application on the central side, reading the central store, for the
provincial CDC's tracers, reporters, fleet technicians and admins (roles: :mod:`.roles`).

``kiosk-collector console`` serves it with waitress (:mod:`.server`) at ``[console] listen``, on
loopback, behind the operator's HTTPS proxy in production (docs/operator.md). What is here now:

- :mod:`.accounts`: users with a password and an authenticator app (TOTP), throttled logins,
  sessions; ``kiosk-collector users add|list|reset|remove``;
- :mod:`.api_tokens`: tokens for machines; ``kiosk-collector api-token add|list|revoke``;
- :mod:`.audit`: the append-only audit of every lookup; ``kiosk-collector audit [--json]``;
- :mod:`.api`: ``/api/v1/contacts``, ``/presence``, ``/stats`` (a contract);
- :mod:`.pages`: signing in, each role's home, cases (:mod:`.messages`: their sentences, vi/en);
- :mod:`.app`: the Flask app factory over a :class:`~.app.Console`; :mod:`.cli`: the commands.

Importing the package loads nothing: ``kiosk-collector run`` needs neither Flask's console parts
nor the ``[console]`` extra (pyotp, openpyxl).
"""
