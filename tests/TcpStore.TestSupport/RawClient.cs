using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TcpStore.TestSupport;

/// <summary>A bare TCP client for socket-level tests: exact bytes out, exact bytes in, every read bounded in time.</summary>
public sealed class RawClient : IAsyncDisposable
{
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;

    private RawClient(Socket socket) => _socket = socket;

    public static Task<RawClient> ConnectAsync(int port, bool validate = true) =>
        ConnectAsync(IPAddress.Loopback, port, validate);

    /// <summary>Connects to <paramref name="address"/> (an IPv4 or an IPv6 one) and sends VALIDATE unless told not to.</summary>
    public static async Task<RawClient> ConnectAsync(IPAddress address, int port, bool validate = true)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(address, port);
        var client = new RawClient(socket);
        if (validate) await client.SendAsync(Wire.Validate);
        return client;
    }

    public Socket Socket => _socket;

    public async Task SendAsync(params byte[][] requests)
    {
        var bytes = Wire.Cat(requests);
        var sent = 0;
        while (sent < bytes.Length) sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes; throws on timeout or on the peer closing.</summary>
    public async Task<byte[]> ReadAsync(int count, TimeSpan? timeout = null)
    {
        var buffer = new byte[count];
        var read = 0;
        using var cts = new CancellationTokenSource(timeout ?? ReplyTimeout);
        while (read < count)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException($"connection closed after {read} of {count} bytes");
            read += n;
        }

        return buffer;
    }

    public async Task<byte> ReadByteAsync() => (await ReadAsync(1))[0];

    public async Task<long> ReadInt64Async() => BinaryPrimitives.ReadInt64LittleEndian(await ReadAsync(8));

    public async Task<uint> ReadUInt32Async() => BinaryPrimitives.ReadUInt32LittleEndian(await ReadAsync(4));

    public async Task<byte[]> ReadVectorAsync()
    {
        var length = await ReadInt64Async();
        return length == 0 ? [] : await ReadAsync(checked((int)length));
    }

    public async Task<string> ReadStringAsync() => Encoding.UTF8.GetString(await ReadVectorAsync());

    /// <summary>True when nothing at all arrives within <paramref name="window"/> (the connection stays open).</summary>
    public async Task<bool> NothingArrivesAsync(TimeSpan window)
    {
        var buffer = new byte[1];
        using var cts = new CancellationTokenSource(window);
        try
        {
            var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException("connection closed while expecting silence");
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    /// <summary>True when the server closes the connection within <paramref name="timeout"/> (data before EOF is skipped).</summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan? timeout = null)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout ?? ReplyTimeout);
        try
        {
            while (true)
            {
                if (await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0) return true;
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true; // reset counts as closed
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
