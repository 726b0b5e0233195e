"""The one error type for mistakes a user can make (config, data, files)."""


class UserError(ValueError):
  """A problem the user can fix; the message names the field and the fix.

  `launch.py` prints it on one line and exits with status 2.
  """
