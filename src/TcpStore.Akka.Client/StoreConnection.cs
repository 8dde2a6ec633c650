using System.Buffers;
using System.Net.Sockets;
using TcpStore.Protocol;

namespace TcpStore.Akka.Client;

/// <summary>
/// One TCP connection to a store: encodes queries with <see cref="QueryEncoder"/> into pooled buffers and parses replies
/// with <see cref="ReplyReader"/> from a pooled receive buffer that keeps bytes across calls. Not thread-safe: the
/// client serializes calls.
/// </summary>
internal sealed class StoreConnection : IDisposable
{
    internal const string ClosedByPeer =
        "Failed to recv, got 0 bytes. Connection was likely closed. Did the remote server shutdown or crash?";

    private const int InitialBufferSize = 4096;

    private readonly Socket _socket;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    private int _start;
    private int _end;
    private int _disposed;

    private StoreConnection(Socket socket) => _socket = socket;

    /// <summary>Opens a TCP connection (no VALIDATE yet). Any IPv4/IPv6 address of <paramref name="host"/> will do.</summary>
    public static async Task<StoreConnection> OpenAsync(string host, int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            return new StoreConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>VALIDATE then PING(nonce) in one send, then the echo; false if the echo differs.</summary>
    public async Task<uint> ValidateAndPingAsync(uint nonce, CancellationToken cancellationToken)
    {
        var ping = new Query.Ping(nonce);
        var length = WireFormat.ValidateLength + QueryEncoder.GetEncodedLength(ping);
        var bytes = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = QueryEncoder.WriteValidate(bytes);
            QueryEncoder.Encode(ping, bytes.AsSpan(written));
            await SendAllAsync(bytes.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }

        var reply = (Reply.Pong)await ReadReplyAsync(QueryType.Ping, 0, cancellationToken).ConfigureAwait(false);
        return reply.Nonce;
    }

    public async Task SendAsync(Query query, CancellationToken cancellationToken)
    {
        var length = QueryEncoder.GetEncodedLength(query);
        var bytes = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            QueryEncoder.Encode(query, bytes);
            await SendAllAsync(bytes.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>Reads the reply to a query of <paramref name="type"/>, receiving until it is complete.</summary>
    public async Task<Reply> ReadReplyAsync(QueryType type, int multiGetKeyCount, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryParse(type, multiGetKeyCount, out var reply))
                return reply;
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool TryParse(QueryType type, int multiGetKeyCount, out Reply reply)
    {
        reply = null!;
        if (!ReplyReader.TryRead(type, multiGetKeyCount, _buffer.AsSpan(_start, _end - _start), out var parsed, out var consumed))
            return false;
        _start += consumed;
        if (_start == _end) _start = _end = 0;
        reply = parsed!;
        return true;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                var larger = ArrayPool<byte>.Shared.Rent(checked(_buffer.Length * 2));
                Buffer.BlockCopy(_buffer, 0, larger, 0, _end);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
        }

        var received = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken)
            .ConfigureAwait(false);
        if (received == 0)
            throw new EndOfStreamException(ClosedByPeer);
        _end += received;
    }

    private async Task SendAllAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            bytes = bytes[sent..];
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _socket.Dispose();
        // The receive buffer is not returned to the pool: a receive racing with Dispose could still write into it.
    }
}
