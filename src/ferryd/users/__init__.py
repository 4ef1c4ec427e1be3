"""Virtual users: the `UserStore` (auth reads) and `UserAdmin` (CRUD) protocols and their errors.

Backends live in their own modules (`ferryd.users.sqlite`); only app wiring and the CLI import
them.
"""

from ferryd.users.model import User
from ferryd.users.store import (
    InvalidFolderError,
    InvalidHomeError,
    InvalidPasswordError,
    InvalidPublicKeyError,
    InvalidUserNameError,
    PublicKeyExistsError,
    UnknownPublicKeyError,
    UnknownUserError,
    UserAdmin,
    UserExistsError,
    UserStore,
    UserStoreError,
    UserStoreUnavailableError,
)

__all__ = [
    "InvalidFolderError",
    "InvalidHomeError",
    "InvalidPasswordError",
    "InvalidPublicKeyError",
    "InvalidUserNameError",
    "PublicKeyExistsError",
    "UnknownPublicKeyError",
    "UnknownUserError",
    "User",
    "UserAdmin",
    "UserExistsError",
    "UserStore",
    "UserStoreError",
    "UserStoreUnavailableError",
]
