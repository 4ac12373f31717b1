"""The errors denbi-jupyter raises, named after who can fix them.

```
DenbiError                      root: catch this to catch everything of ours
├── UserInputError              your input is wrong: fix it and try again
├── NotFoundError               the thing you named does not exist (or is not visible to you)
├── ConflictError               the resource is busy or in the wrong state right now
├── QuotaExceededError          your project is out of quota: free resources or ask for more
├── AuthenticationError         the cloud refused your credentials: check clouds.yaml
├── PermissionDeniedError       you may not do this to that resource (protected, not yours)
└── CloudUnavailableError       the cloud failed or could not be reached: try again later
    └── OperationFailedError    a long operation ended badly (snapshot killed, boot ERROR, timeout)
```

Every message says what happened and what to do next. No message carries a credential.
"""

from __future__ import annotations

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
    """Root of every error denbi-jupyter raises on purpose."""


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


class OperationFailedError(CloudUnavailableError):
    """A long operation (boot, snapshot) ended in a failure state or timed out."""
