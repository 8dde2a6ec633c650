using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TcpStore.Protocol;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// compare.sh's idle-memory helper: opens N connections to 127.0.0.1:PORT, sends VALIDATE + PING on each and waits
/// for the echo (so the server holds N validated connections), prints
/// <c>IDLE conns=N open=K errors=E seconds=S</c>, then keeps them open and silent until it is killed or
/// <c>--hold-seconds</c> pass. Every wait is bounded.
/// </summary>
/// <remarks>
/// Usage: <c>idle --port P [--conns 10000] [--parallel 128] [--hold-seconds 300]</c>. Connects run at most
/// <c>--parallel</c> at a time (a connect burst larger than the server's listen backlog only measures SYN retries);
/// a failed connect or handshake is retried up to 3 times, then counted as an error.
/// </remarks>
internal static class IdleConnections
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args)
    {
        int port = 0, conns = 10_000, parallel = 128, holdSeconds = 300;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var v = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--port": port = v; break;
                case "--conns": conns = v; break;
                case "--parallel": parallel = v; break;
                case "--hold-seconds": holdSeconds = v; break;
                default:
                    await Console.Error.WriteLineAsync($"idle: unknown option {args[i]}").ConfigureAwait(false);
                    return 2;
            }
        }

        if (port <= 0 || conns <= 0 || parallel <= 0 || args.Length % 2 != 0)
        {
            await Console.Error.WriteLineAsync(
                "usage: idle --port P [--conns N] [--parallel K] [--hold-seconds S]").ConfigureAwait(false);
            return 2;
        }

        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        var sockets = new Socket?[conns];
        var errors = 0;
        var stopwatch = Stopwatch.StartNew();
        using (var gate = new SemaphoreSlim(parallel))
        {
            var tasks = new Task[conns];
            for (var i = 0; i < conns; i++)
            {
                await gate.WaitAsync().ConfigureAwait(false);
                var index = i;
                tasks[i] = Task.Run(async () =>
                {
                    try
                    {
                        sockets[index] = await OpenValidatedAsync(endpoint, (uint)index).ConfigureAwait(false);
                        if (sockets[index] is null)
                            Interlocked.Increment(ref errors);
                    }
                    finally
                    {
                        gate.Release();
                    }
                });
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
        }

        var open = sockets.Count(s => s is not null);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"IDLE conns={conns} open={open} errors={errors} seconds={stopwatch.Elapsed.TotalSeconds:F2}"));
        await Console.Out.FlushAsync().ConfigureAwait(false);

        await Task.Delay(TimeSpan.FromSeconds(holdSeconds)).ConfigureAwait(false);
        foreach (var s in sockets)
            s?.Dispose();
        return errors == 0 ? 0 : 1;
    }

    private static async Task<Socket?> OpenValidatedAsync(IPEndPoint endpoint, uint nonce)
    {
        var request = new byte[64];
        var length = QueryEncoder.WriteValidate(request);
        length += QueryEncoder.Encode(new Query.Ping(nonce), request.AsSpan(length));
        var reply = new byte[4];

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = new CancellationTokenSource(StepTimeout);
                await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
                await socket.SendAsync(request.AsMemory(0, length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                var received = 0;
                while (received < reply.Length)
                {
                    var n = await socket.ReceiveAsync(reply.AsMemory(received), SocketFlags.None, timeout.Token)
                        .ConfigureAwait(false);
                    if (n == 0)
                        throw new IOException("closed by the server");
                    received += n;
                }

                if (BinaryPrimitives.ReadUInt32LittleEndian(reply) != nonce)
                    throw new IOException("PING echo mismatch");
                return socket;
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                socket.Dispose();
                await Task.Delay(50 * (attempt + 1)).ConfigureAwait(false);
            }
        }

        return null;
    }
}
