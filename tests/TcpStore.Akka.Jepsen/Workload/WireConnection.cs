using System.Net;
using System.Net.Sockets;
using TcpStore.Protocol;

namespace TcpStore.Akka.Jepsen.Workload;

/// <summary>
/// A raw TCPStore connection through <see cref="QueryEncoder"/> and <see cref="ReplyReader"/>, so that requests can be
/// pipelined (several in one write, as a PyTorch rank's SET + ADD can arrive) and each reply is timed as it is read.
/// Any failure or timeout leaves the stream in an unknown state: the caller disposes the connection.
/// </summary>
public sealed class WireConnection : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private WireConnection(Socket socket) => _socket = socket;

    /// <summary>Connects, sends VALIDATE and PING and reads the echo, all within <paramref name="timeout"/>.</summary>
    public static async Task<WireConnection> OpenAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(timeout);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var connection = new WireConnection(socket);
        try
        {
            await socket.ConnectAsync(IPAddress.Parse(host), port, bound.Token);
            var hello = new byte[WireFormat.ValidateLength + QueryEncoder.GetEncodedLength(new Query.Ping(0))];
            var length = QueryEncoder.WriteValidate(hello);
            const uint nonce = 0x4A455053; // "JEPS"
            QueryEncoder.Encode(new Query.Ping(nonce), hello.AsSpan(length));
            await socket.SendAsync(hello, SocketFlags.None, bound.Token);
            var echo = await connection.ReadAsync(QueryType.Ping, 0, bound.Token);
            if (echo is not Reply.Pong { Nonce: nonce }) throw new IOException($"bad PING echo {echo}");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="queries"/> in one write.</summary>
    public async Task SendAsync(IReadOnlyList<Query> queries, CancellationToken ct)
    {
        var bytes = QueryEncoder.Encode(queries, validateFirst: false);
        var sent = 0;
        while (sent < bytes.Length) sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, ct);
    }

    /// <summary>Reads the next reply, which answers a query of <paramref name="type"/>.</summary>
    public async Task<Reply> ReadAsync(QueryType type, int multiGetKeyCount, CancellationToken ct)
    {
        while (true)
        {
            if (_end > _start &&
                ReplyReader.TryRead(type, multiGetKeyCount, _buffer.AsSpan(_start, _end - _start), out var reply, out var consumed))
            {
                _start += consumed;
                return reply!;
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct);
            if (read == 0) throw new EndOfStreamException("the server closed the connection");
            _end += read;
        }
    }

    public void Dispose() => _socket.Dispose();
}
