"""``nas cancel`` (see :mod:`nas.commands.remote`)."""

from nas.commands.remote import add_cancel as add_parser

__all__ = ["add_parser"]
