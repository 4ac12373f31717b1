"""The errors denbi-jupyter raises, named after who can fix them.

```
DenbiError                      root: catch this to catch everything of ours
├── UserInputError              your input is wrong: fix it and try again
├── NotFoundError               the thing you named does not exist (or is not visible to you)
├── ConflictError               the resource is busy or in the wrong state right now
├── QuotaExceededError          your project is out of quota: free resources or ask for more
├── AuthenticationError         the cloud refused your credentials: check clouds.yaml
├── PermissionDeniedError       you may not do this to that resource (protected, not yours)
├── CloudUnavailableError       the cloud failed or could not be reached: try again later
└── OperationFailedError        a long operation ended badly (snapshot killed, boot ERROR, timeout)
```

``OperationFailedError`` is not a kind of ``CloudUnavailableError``: the cloud answered, the
operation itself failed, so ``except CloudUnavailableError`` (retry later) does not catch it.

Every error carries its context as keyword-only attributes: ``site`` (the ``clouds.yaml``
entry), ``action`` (the verb phrase of what was attempted, ``"delete image 1234"``) and, where
the cloud answered, ``status`` (the HTTP status). Each is None when unknown. ``str(error)`` is
the message alone. Every message says what happened and what to do next. No message carries a
credential.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "CloudUnavailableError",
    "ConflictError",
    "DenbiError",
    "NotFoundError",
    "OperationFailedError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "UserInputError",
]


class DenbiError(Exception):
    """Root of every error denbi-jupyter raises on purpose.

    Args:
        *args: The message (one string, as for any exception).
        site: The ``clouds.yaml`` entry the error happened on, if any.
        action: What was attempted, as a verb phrase (``"delete image 1234"``).
        status: The HTTP status the cloud answered with, if it answered.
    """

    site: str | None
    action: str | None
    status: int | None

    def __init__(
        self,
        *args: object,
        site: str | None = None,
        action: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(*args)
        self.site = site
        self.action = action
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        # Prefect pickles exceptions (task results, retries): rebuild with the message as args
        # and the context as keywords, whatever a subclass's own attributes are.
        return (_rebuild, (type(self), self.args, self.site, self.action, self.status))


def _rebuild(
    cls: type[DenbiError],
    args: tuple[object, ...],
    site: str | None,
    action: str | None,
    status: int | None,
) -> DenbiError:
    """Unpickle a :class:`DenbiError` (module level so pickle can name it)."""
    return cls(*args, site=site, action=action, status=status)


class UserInputError(DenbiError, ValueError):
    """The input is wrong; the message says which input and what is accepted."""


class NotFoundError(DenbiError, LookupError):
    """A named server, image, snapshot, flavor, key pair or site does not exist."""


class ConflictError(DenbiError):
    """The resource is in a state that does not allow the action now (HTTP 409)."""


class QuotaExceededError(DenbiError):
    """The project's quota does not allow the action."""


class AuthenticationError(DenbiError):
    """The cloud refused the credentials of a clouds.yaml entry."""


class PermissionDeniedError(DenbiError):
    """The action is not allowed on this resource (protected, or owned by another project)."""


class CloudUnavailableError(DenbiError):
    """The cloud could not be reached or answered with a server error."""


class OperationFailedError(DenbiError):
    """A long operation (boot, snapshot) ended in a failure state or timed out."""
