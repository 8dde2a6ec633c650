using System.Net;
using System.Net.Sockets;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Client.Tests.Support;

/// <summary>
/// A scripted TCPStore server on 127.0.0.1: each accepted connection runs the script with its index, so a test states
/// exactly which bytes it expects and what it answers. Script failures are collected and rethrown on dispose.
/// </summary>
public sealed class FakeServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<FakeConnection, int, Task> _script;
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _accepted;

    private FakeServer(TcpListener listener, Func<FakeConnection, int, Task> script)
    {
        _listener = listener;
        _script = script;
        _accepting = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    public static FakeServer Start(Func<FakeConnection, int, Task> script, int port = 0)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return new FakeServer(listener, script);
    }

    public TcpStoreClientOptions Options => new()
    {
        Host = "127.0.0.1", Port = Port, Timeout = TimeSpan.FromSeconds(5), InitialBackoff = TimeSpan.FromMilliseconds(20),
    };

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            var index = Interlocked.Increment(ref _accepted) - 1;
            var connection = new FakeConnection(socket);
            lock (_running) _running.Add(RunAsync(connection, index));
        }
    }

    private async Task RunAsync(FakeConnection connection, int index)
    {
        using (connection) await _script(connection, index);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        Task[] running;
        lock (_running) running = _running.ToArray();
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10));
    }
}

/// <summary>One accepted connection of a <see cref="FakeServer"/>; every read is bounded in time.</summary>
public sealed class FakeConnection(Socket socket) : IDisposable
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    public async Task<byte[]> ReadAsync(int count, TimeSpan? timeout = null)
    {
        var buffer = new byte[count];
        var read = 0;
        using var cts = new CancellationTokenSource(timeout ?? ReadTimeout);
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException($"client closed after {read} of {count} bytes");
            read += n;
        }

        return buffer;
    }

    /// <summary>Reads exactly <paramref name="expected"/>'s length and asserts the bytes.</summary>
    public async Task ExpectAsync(byte[] expected) =>
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(await ReadAsync(expected.Length)));

    /// <summary>VALIDATE + PING; echoes the nonce (or <paramref name="echo"/>); returns the nonce.</summary>
    public async Task<uint> HandshakeAsync(uint? echo = null)
    {
        await ExpectAsync(Validate);
        var ping = await ReadAsync(5);
        Assert.Equal(13, ping[0]);
        var nonce = BitConverter.ToUInt32(ping, 1);
        await SendAsync(U32(echo ?? nonce));
        return nonce;
    }

    public async Task SendAsync(params byte[][] parts)
    {
        var bytes = Cat(parts);
        var sent = 0;
        while (sent < bytes.Length) sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    /// <summary>True when the client closes the connection (reads until EOF).</summary>
    public async Task<bool> ClosedByClientAsync(TimeSpan? timeout = null)
    {
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(timeout ?? ReadTimeout);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public void Dispose() => socket.Dispose();
}
