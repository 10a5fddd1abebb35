"""The embedded default's broker: Kombu's filesystem transport, each message written whole.

Kombu's filesystem transport (5.7) creates a message's file, then writes it;
a worker polling the folder can take the file in between and read nothing,
and `json.loads("")` stops the worker ("Unrecoverable error: JSONDecodeError"):
the soak met it on a busy machine. Here a message is written under a name no
reader takes (`….msg.part`) and renamed into place, which is atomic on one
filesystem. Redis, production's broker, is not concerned.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written aside, then renamed into the queue folder."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # `_get` takes only names ending in ".<queue>.msg"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
