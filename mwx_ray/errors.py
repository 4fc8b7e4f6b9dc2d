"""Exception types shared across packages (pure: no heavy imports)."""


class UnknownNameError(KeyError):
    """A name that is not in a registry (task, robot, motion source, teacher...). The message lists valid names."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""
