"""Handlers for transfer parameters, data connections and file transfers."""

from __future__ import annotations

import asyncio
import logging
import posixpath
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from ferryd.ftp.data_connection import (
    SMALL_TRANSFER,
    DataConnection,
    DataStalled,
    FileSideError,
)
from ferryd.ftp.proto.addresses import (
    AddressSyntaxError,
    HostPort,
    epsv_reply_text,
    parse_eprt_argument,
    parse_port_argument,
    pasv_reply_text,
    unmapped,
)
from ferryd.ftp.proto.ascii import AsciiDownloadEncoder, AsciiUploadDecoder
from ferryd.ftp.proto.core import Command
from ferryd.ftp.proto.replies import Reply
from ferryd.session.transfers import Download, RateLimiter, Upload
from ferryd.storage.errors import NoSpace, StorageError, storage_error_from

if TYPE_CHECKING:
    from ferryd.ftp.connection import FtpConnection

log = logging.getLogger("ferryd.ftp")

DEFAULT_CHUNK = 1024 * 1024  # bench/: TLS moves ~2x faster in 1 MiB records than 256 KiB
_NETWORK_ERRORS = (ConnectionError, ssl.SSLError, OSError, DataStalled)


def _chunk_size(conn: FtpConnection, rate: RateLimiter | None = None) -> int:
    """trans_chunk_size, else 1 MiB; under a rate limit at most a twentieth of a second's
    worth, so the pace holds within a few percent even on short transfers."""
    chunk = conn.services.ftp.trans_chunk_size or DEFAULT_CHUNK
    if rate is not None and rate.limited:
        return max(4096, min(chunk, rate.bytes_per_second // 20))
    return chunk


async def handle_type(conn: FtpConnection, command: Command) -> Reply:
    kind = command.argument.strip().upper().split()
    if kind in (["A"], ["A", "N"]):
        conn.state.ascii_type = True
        return Reply(200, "Switching to ASCII mode.")
    if kind in (["I"], ["L", "8"], ["L8"]):
        conn.state.ascii_type = False
        return Reply(200, "Switching to Binary mode.")
    return Reply(504, "Unrecognised TYPE command: use A or I.")


async def handle_mode(conn: FtpConnection, command: Command) -> Reply:
    del conn
    if command.argument.strip().upper() == "S":
        return Reply(200, "Mode set to S.")
    return Reply(504, "Bad MODE command: only S (stream) is supported.")


async def handle_stru(conn: FtpConnection, command: Command) -> Reply:
    del conn
    if command.argument.strip().upper() == "F":
        return Reply(200, "Structure set to F.")
    return Reply(504, "Bad STRU command: only F (file) is supported.")


async def handle_allo(conn: FtpConnection, command: Command) -> Reply:
    del conn, command
    return Reply(202, "ALLO command ignored.")


def _active_refusal(conn: FtpConnection) -> Reply | None:
    if not conn.services.data_rules.port_enable:
        return Reply(500, "PORT/EPRT are off on this server (port_enable=NO): use PASV or EPSV.")
    if conn.state.epsv_all:
        return Reply(500, "EPSV ALL is in effect: use EPSV.")
    return None


# PORT and EPRT differ only in how the argument is written and in the replies' words.
_ACTIVE_FORMS: dict[str, tuple[Callable[[str], HostPort], Reply, Reply]] = {
    "PORT": (parse_port_argument, Reply(500, "Illegal PORT command."),
             Reply(200, "PORT command successful. Consider using PASV.")),
    "EPRT": (parse_eprt_argument,
             Reply(522, "Bad EPRT argument; network protocol supported: (1,2)"),
             Reply(200, "EPRT command successful. Consider using EPSV.")),
}


async def handle_port(conn: FtpConnection, command: Command) -> Reply:
    """PORT and EPRT: remember where to connect for the next transfer (anti-bounce checked)."""
    refusal = _active_refusal(conn)
    if refusal is not None:
        return refusal
    parse, malformed, accepted = _ACTIVE_FORMS[command.name]
    try:
        target = parse(command.argument)
    except AddressSyntaxError:
        return malformed
    reason = conn.data.set_active(target.host, target.port)
    return accepted if reason is None else Reply(500, reason)


def _passive_refusal(conn: FtpConnection) -> Reply | None:
    if not conn.services.data_rules.pasv_enable:
        return Reply(500, "PASV/EPSV are off on this server (pasv_enable=NO): use PORT.")
    return None


async def handle_pasv(conn: FtpConnection, command: Command) -> Reply:
    del command
    refusal = _passive_refusal(conn)
    if refusal is not None:
        return refusal
    if conn.state.epsv_all:
        return Reply(500, "EPSV ALL is in effect: use EPSV.")
    announced = (conn.services.passive_address(conn.peer_address)
                 or unmapped(conn.endpoints.front))
    if ":" in announced:
        return Reply(500, "PASV needs IPv4: this is an IPv6 connection, use EPSV.")
    port = await conn.data.open_passive()
    return Reply(227, pasv_reply_text(announced, port))


async def handle_epsv(conn: FtpConnection, command: Command) -> Reply:
    refusal = _passive_refusal(conn)
    if refusal is not None:
        return refusal
    argument = command.argument.strip().upper()
    if argument == "ALL":
        conn.state.epsv_all = True
        return Reply(200, "EPSV ALL ok.")
    local_family = "2" if ":" in unmapped(conn.endpoints.front) else "1"
    if argument and argument != local_family:
        return Reply(522, f"Network protocol not supported, use ({local_family})")
    port = await conn.data.open_passive()
    return Reply(229, epsv_reply_text(port))


async def handle_rest(conn: FtpConnection, command: Command) -> Reply:
    text = command.argument.strip()
    if not text.isdigit():
        return Reply(501, "REST needs a byte offset (a non-negative number).")
    conn.state.restart_offset = int(text)
    return Reply(350, f"Restart position accepted ({int(text)}).")


# -- downloads --------------------------------------------------------------------------
async def handle_retr(conn: FtpConnection, command: Command) -> Reply | None:
    conn.check_data_protection()
    offset = conn.state.take_restart_offset()
    if conn.state.ascii_type and offset:
        # vsftpd: a REST offset counts file bytes, a TYPE A stream does not; no guessing
        return Reply(550, "No support for resume of ASCII transfer.")
    ascii_mode = conn.state.ascii_type and conn.services.ftp.ascii_download_enable
    download = await conn.session.open_download(
        command.argument, offset=offset, ascii_mode=ascii_mode
    )
    if download.handle.size < offset:
        await download.finish(complete=False)
        return Reply(554, "Restart offset beyond the end of the file.")
    kind = "ASCII" if conn.state.ascii_type else "BINARY"
    name = posixpath.basename(download.path)
    preliminary = Reply(
        150, f"Opening {kind} mode data connection for {name} ({download.handle.size} bytes)."
    )
    try:
        data = await conn.open_data_connection(preliminary)
    except BaseException:
        await download.finish(complete=False)
        raise
    conn.start_transfer(_send_download(conn, download, data, offset, ascii_mode))
    return None


async def _send_download(
    conn: FtpConnection, download: Download, data: DataConnection, offset: int, ascii_mode: bool
) -> None:
    complete = False
    reply = Reply(426, "Failure writing network stream.")
    try:
        if ascii_mode or download.rate.limited:
            encoder = AsciiDownloadEncoder() if ascii_mode else None
            chunk = _chunk_size(conn, download.rate)
            while block := await download.handle.read(chunk):
                await data.send(encoder.encode(block) if encoder else block)
                await download.account(len(block))
        else:
            try:
                sent = await data.send_file(
                    download.handle, offset, _chunk_size(conn),
                    use_sendfile=conn.services.ftp.use_sendfile,
                )
            except FileSideError as exc:
                raise storage_error_from(exc.error, download.path) from exc
            await download.account(sent)
        await data.close(wait_for_peer_shutdown=conn.services.strict_tls_write_shutdown)
        complete = True
        reply = Reply(226, "Transfer complete.")
    except _NETWORK_ERRORS as exc:
        log.info("download of %s to %s failed: %s", download.path, conn.peer_address, exc)
        data.abort()
    except StorageError as exc:
        data.abort()
        reply = Reply(451, f"Failure reading local file: {exc}")
    except asyncio.CancelledError:
        data.abort()
        await download.finish(complete=False)
        raise
    await download.finish(complete=complete)
    await conn.send(reply)


# -- uploads ----------------------------------------------------------------------------
async def _start_upload(conn: FtpConnection, upload: Upload, name: str) -> None:
    try:
        data = await conn.open_data_connection(Reply(150, name), upload=True)
    except BaseException:
        await upload.finish(complete=False)
        raise
    ascii_mode = conn.state.ascii_type and conn.services.ftp.ascii_upload_enable
    conn.start_transfer(_receive_upload(conn, upload, data, ascii_mode))


async def handle_stor(conn: FtpConnection, command: Command) -> Reply | None:
    conn.check_data_protection()
    offset = conn.state.take_restart_offset()
    append = command.name == "APPE"
    upload = await conn.session.open_upload(
        command.argument, offset=offset, append=append, ascii_mode=conn.state.ascii_type
    )
    await _start_upload(conn, upload, "Ok to send data.")
    return None


async def handle_stou(conn: FtpConnection, command: Command) -> Reply | None:
    conn.check_data_protection()
    upload = await conn.session.open_unique_upload(command.argument.strip() or None)
    await _start_upload(conn, upload, f"FILE: {posixpath.basename(upload.path)}")
    return None


async def _receive_upload(
    conn: FtpConnection, upload: Upload, data: DataConnection, ascii_mode: bool
) -> None:
    complete = False
    reply = Reply(426, "Failure reading network stream.")
    decoder = AsciiUploadDecoder() if ascii_mode else None
    chunk = _chunk_size(conn, upload.rate)
    direct = decoder is None and not upload.rate.limited and upload.handle.fileno() is not None
    try:
        if direct:
            await _receive_direct(data, upload, chunk)
        else:
            while block := await data.receive(chunk):
                await upload.write(decoder.decode(block) if decoder else block)
        if decoder:
            await upload.write(decoder.flush())
        await data.close()
        await upload.finish(complete=True)
        complete = True
        reply = Reply(226, "Transfer complete.")
    except _NETWORK_ERRORS as exc:
        log.info("upload of %s from %s failed: %s", upload.path, conn.peer_address, exc)
        data.abort()
    except NoSpace:
        data.abort()
        reply = Reply(452, "Insufficient storage space: the disk or quota is full.")
    except StorageError as exc:
        data.abort()
        reply = Reply(451, f"Failure writing to local file: {exc}")
    except asyncio.CancelledError:
        data.abort()
        await upload.finish(complete=False)
        raise
    if not complete:
        await upload.finish(complete=False)
    await conn.send(reply)


async def _receive_direct(data: DataConnection, upload: Upload, chunk: int) -> None:
    """A small upload is received on the event loop and stored with the commit (one storage
    call); a larger one is copied to the file by a worker thread."""
    received, ended = await data.receive_small(SMALL_TRANSFER)
    if ended:
        await upload.write(received)
        return
    try:
        await data.receive_to_file(upload.handle, chunk, received)
    except FileSideError as exc:
        raise storage_error_from(exc.error, upload.path) from exc
    finally:  # what reached the file counts in the logs, also for a failed upload
        upload.count(data.bytes_to_file)


async def handle_abor(conn: FtpConnection, command: Command) -> Reply:
    del command
    conn.data.reset()
    if await conn.abort_transfer():
        await conn.send(Reply(426, "Failure writing network stream."))
        return Reply(226, "ABOR successful.")
    return Reply(225, "No transfer to ABOR.")


HANDLERS = {
    "TYPE": handle_type, "MODE": handle_mode, "STRU": handle_stru, "ALLO": handle_allo,
    "PORT": handle_port, "EPRT": handle_port, "PASV": handle_pasv, "EPSV": handle_epsv,
    "REST": handle_rest, "RETR": handle_retr, "STOR": handle_stor, "APPE": handle_stor,
    "STOU": handle_stou, "ABOR": handle_abor,
}
