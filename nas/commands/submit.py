"""``nas submit`` (see :mod:`nas.commands.remote`)."""

from nas.commands.remote import add_submit as add_parser

__all__ = ["add_parser"]
