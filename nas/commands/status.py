"""``nas status`` (see :mod:`nas.commands.remote`)."""

from nas.commands.remote import add_status as add_parser

__all__ = ["add_parser"]
