using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TcpStore.Protocol;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// compare.sh's "does a heavy request stall the others" probe. A bystander connection PINGs in a closed loop for the
/// whole run and records every round trip; a heavy connection meanwhile repeats one expensive request and reads its
/// whole reply: <c>listkeys</c> (LIST_KEYS over <c>--keys</c> keys, 131,072 by default: libuv's limit of keys per
/// request), <c>get</c> (GET of one <c>--value-bytes</c> value, 8 MiB by default: libuv's largest) or <c>set</c>
/// (SET of such a value, then a PING for its acknowledgement). Prints
/// <c>RESULT mode=stall op=.. heavy_ms_p50=.. heavy_ms_max=.. bystander_p99_us=.. bystander_max_us=.. pings=.. errors=..</c>:
/// how long the heavy request takes, and how long it held up an unrelated client (the bystander's worst round trip
/// while the heavy requests ran). On one event loop the two share a thread, as in libuv's server. Every wait is bounded.
/// </summary>
/// <remarks>Usage: <c>stall --port P --op listkeys|get|set [--keys 131072] [--value-bytes 8388608] [--rounds 5]</c>.</remarks>
internal static class StallProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        int port = 0, keys = 131_072, valueBytes = 8 << 20, rounds = 5;
        var op = "listkeys";
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--port": port = Int(args[i + 1]); break;
                case "--keys": keys = Int(args[i + 1]); break;
                case "--value-bytes": valueBytes = Int(args[i + 1]); break;
                case "--rounds": rounds = Int(args[i + 1]); break;
                case "--op": op = args[i + 1]; break;
                default:
                    await Console.Error.WriteLineAsync($"stall: unknown option {args[i]}").ConfigureAwait(false);
                    return 2;
            }
        }

        var tag = Guid.NewGuid().ToString("N")[..8];
        var big = Bytes($"stall/{tag}/value");
        var value = new byte[valueBytes];
        Random.Shared.NextBytes(value);
        using var heavy = await ConnectAsync(port).ConfigureAwait(false);

        // Set-up: the keys (MULTI_SET in chunks, one PING per chunk to keep the client's replies bounded) or the value.
        if (op == "listkeys")
        {
            const int chunk = 4096;
            for (var first = 0; first < keys; first += chunk)
            {
                var pairs = Enumerable.Range(first, Math.Min(chunk, keys - first))
                    .Select(k => new KeyValuePair<byte[], byte[]>(Bytes($"stall/{tag}/k/{k}"), [1]))
                    .ToList();
                Send(heavy, new Query.MultiSet(pairs), new Query.Ping(1));
                Read(heavy, new Query.Ping(1));
            }
        }
        else if (op == "get")
        {
            Send(heavy, new Query.Set(big, value), new Query.Ping(1));
            Read(heavy, new Query.Ping(1));
        }

        using var bystander = await ConnectAsync(port).ConfigureAwait(false);
        var latencies = new List<double>();
        var errors = 0;
        // Warm-up, not measured: the probe's own code paths and one heavy request (the server's first use of it).
        for (uint n = 0; n < 100; n++)
        {
            Send(bystander, new Query.Ping(n));
            Read(bystander, new Query.Ping(n));
        }

        if (!Heavy(heavy, op, big, value, keys, valueBytes, out var unknown))
        {
            if (unknown)
            {
                await Console.Error.WriteLineAsync($"stall: unknown --op {op}").ConfigureAwait(false);
                return 2;
            }

            errors++;
        }

        using var stop = new CancellationTokenSource();
        var pinged = new TaskCompletionSource();
        var pingThread = new Thread(() =>
        {
            uint nonce = 0;
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                Send(bystander, new Query.Ping(++nonce));
                if (Read(bystander, new Query.Ping(nonce)) is not Reply.Pong pong || pong.Nonce != nonce) Interlocked.Increment(ref errors);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }

            pinged.SetResult();
        }) { IsBackground = true, Name = "stall-bystander" };
        pingThread.Start();

        var heavyMs = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            var started = Stopwatch.GetTimestamp();
            if (!Heavy(heavy, op, big, value, keys, valueBytes, out _)) Interlocked.Increment(ref errors);
            heavyMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await pinged.Task.WaitAsync(Timeout).ConfigureAwait(false);
        latencies.Sort();
        heavyMs.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT mode=stall op={op} rounds={rounds} heavy_ms_p50={heavyMs[heavyMs.Count / 2]:0.0} heavy_ms_max={heavyMs[^1]:0.0} " +
            $"bystander_p99_us={latencies[(int)(latencies.Count * 0.99)]:0} bystander_max_us={latencies[^1]:0} " +
            $"pings={latencies.Count} errors={errors}"));
        return errors == 0 ? 0 : 1;
    }

    /// <summary>One heavy request and its whole reply; false when the reply is wrong (or the op unknown).</summary>
    private static bool Heavy(Socket heavy, string op, byte[] big, byte[] value, int keys, int valueBytes, out bool unknown)
    {
        unknown = false;
        switch (op)
        {
            case "listkeys":
                Send(heavy, Query.ListKeys.Instance);
                var list = new HeavyReader(heavy);
                var count = list.ReadInt64();
                for (var k = 0L; k < count; k++) list.Skip(list.ReadInt64());
                return count >= keys;
            case "get":
                Send(heavy, new Query.Get(big));
                var reply = new HeavyReader(heavy);
                var length = reply.ReadInt64();
                reply.Skip(length);
                return length == valueBytes;
            case "set":
                Send(heavy, new Query.Set(big, value), new Query.Ping(2));
                return Read(heavy, new Query.Ping(2)) is Reply.Pong { Nonce: 2 };
            default:
                unknown = true;
                return false;
        }
    }

    // The heavy replies are read through a buffer and without decoding them into objects: the probe's own
    // allocations (131,072 keys) would pause it for its garbage collector and count as the server's stall.
    private sealed class HeavyReader(Socket socket)
    {
        private readonly byte[] _buffer = new byte[256 * 1024];
        private int _start;
        private int _end;

        public long ReadInt64()
        {
            Ensure(8);
            var value = BinaryPrimitives.ReadInt64LittleEndian(_buffer.AsSpan(_start, 8));
            _start += 8;
            return value;
        }

        public void Skip(long length)
        {
            while (length > 0)
            {
                if (_start == _end) Ensure(1);
                var take = (int)Math.Min(length, _end - _start);
                _start += take;
                length -= take;
            }
        }

        private void Ensure(int count)
        {
            if (_end - _start >= count) return;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
            while (_end < count)
            {
                var read = socket.Receive(_buffer, _end, _buffer.Length - _end, SocketFlags.None);
                if (read == 0) throw new IOException("the server closed the connection");
                _end += read;
            }
        }
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        {
            NoDelay = true,
            ReceiveTimeout = (int)Timeout.TotalMilliseconds,
            SendTimeout = (int)Timeout.TotalMilliseconds,
        };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).ConfigureAwait(false);
        var validate = new byte[WireFormat.ValidateLength];
        QueryEncoder.WriteValidate(validate);
        socket.Send(validate);
        return socket;
    }

    private static void Send(Socket socket, params Query[] queries) => socket.Send(QueryEncoder.Encode(queries, validateFirst: false));

    /// <summary>Reads the reply to <paramref name="query"/> (blocking, bounded by the socket's receive timeout).</summary>
    private static Reply Read(Socket socket, Query query)
    {
        var buffer = new byte[query is Query.Ping ? 16 : 64 * 1024];
        var filled = 0;
        while (true)
        {
            if (ReplyReader.TryRead(query, buffer.AsSpan(0, filled), out var reply, out _)) return reply!;
            if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
            if (read == 0) throw new IOException("the server closed the connection");
            filled += read;
        }
    }
}
