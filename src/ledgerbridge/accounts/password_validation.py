"""The password policy's own pieces: a length cap and the links that reset a forgotten password.

The rest of the policy is Django's validators, configured in settings.AUTH_PASSWORD_VALIDATORS:
at least 12 characters, no common or user-similar passwords, no composition rules (OWASP ASVS).
"""

from typing import Any

from django.core.exceptions import ValidationError

from ledgerbridge.accounts.tokens import SetPasswordTokenGenerator


class MaximumLengthValidator:
    """Refuses absurdly long passwords, which would only make Argon2 work for an attacker.

    The cap sits far above what people use (passphrases of 128 characters and more pass).
    """

    def __init__(self, max_length: int = 1024) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long. It must contain at most {self.max_length} characters.",
                code="password_too_long",
                params={"max_length": self.max_length},
            )

    def get_help_text(self) -> str:
        return f"Your password can be up to {self.max_length} characters long."


class PasswordResetTokenGenerator(SetPasswordTokenGenerator):
    """The "Forgot password" link: single-use, valid for settings.PASSWORD_RESET_TIMEOUT (48 h).

    Like set-password links it follows core.clock and dies when the password changes or the
    security stamp rotates; its own salt keeps the two kinds of link apart.
    """

    key_salt = "ledgerbridge.accounts.password_validation.PasswordResetTokenGenerator"
