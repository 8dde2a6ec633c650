using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TcpStore.Akka.Client;

namespace TcpStore.Akka.Cli;

/// <summary>
/// <c>tcpstore bench</c>: quick, honest figures. <c>ops</c> runs N connections in closed loops (one request in flight
/// each) for S seconds and reports throughput and latency percentiles; <c>storm</c> connects C clients at once, each
/// does ADD and waits on a barrier key, and reports the time until the last one is released.
/// </summary>
internal static class Bench
{
    public static Command Command(Io io)
    {
        var bench = new Command("bench", "Quick benchmarks against a server: ops (throughput, latency), storm (connect + barrier).");
        bench.Subcommands.Add(Ops(io));
        bench.Subcommands.Add(Storm(io));
        return bench;
    }

    private static Command Ops(Io io)
    {
        var connections = new Option<int>("--connections", "-c") { Description = "Concurrent connections. Default: 4.", DefaultValueFactory = _ => 4 };
        var seconds = new Option<double>("--seconds", "-s") { Description = "Duration. Default: 3.", DefaultValueFactory = _ => 3 };
        var op = new Option<string>("--op") { Description = "add, set, get (WAIT + GET, as PyTorch) or ping. Default: add.", DefaultValueFactory = _ => "add" };
        op.AcceptOnlyFromAmong("add", "set", "get", "ping");
        var command = new Command("ops", "Throughput and latency of one operation over N connections.") { connections, seconds, op };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (first, ct) =>
        {
            var n = p.GetValue(connections);
            var duration = TimeSpan.FromSeconds(p.GetValue(seconds));
            var which = p.GetValue(op)!;
            if (n < 1 || duration <= TimeSpan.Zero) throw new ArgumentException("--connections and --seconds must be positive");
            var run = $"bench/{Guid.NewGuid():N}"[..18];
            var clients = new List<TcpStoreClient> { first };
            try
            {
                for (var i = 1; i < n; i++)
                {
                    var c = first.Clone();
                    clients.Add(c);
                    await c.ConnectAsync(ct);
                }

                var value = new byte[16];
                for (var i = 0; i < n; i++) await clients[i].SetAsync($"{run}/{i}", value, ct);

                var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
                var started = Stopwatch.GetTimestamp();
                var latencies = await Task.WhenAll(clients.Select((c, i) => Task.Run(async () =>
                {
                    var key = $"{run}/{i}";
                    var samples = new List<long>(1 << 16);
                    while (Stopwatch.GetTimestamp() < deadline)
                    {
                        var t0 = Stopwatch.GetTimestamp();
                        switch (which)
                        {
                            case "add": await c.AddAsync(key + "/n", 1, ct); break;
                            case "set": await c.SetAsync(key, value, ct); await c.PingAsync(ct); break;
                            case "get": await c.GetAsync(key, null, ct); break;
                            default: await c.PingAsync(ct); break;
                        }

                        samples.Add(Stopwatch.GetTimestamp() - t0);
                    }

                    return samples;
                }, ct)));
                var elapsed = Stopwatch.GetElapsedTime(started);
                var all = latencies.SelectMany(l => l).Order().ToArray();
                var opsPerSecond = all.Length / elapsed.TotalSeconds;
                var p50 = Micros(all, 0.50);
                var p99 = Micros(all, 0.99);
                if (s.Json(p))
                {
                    io.Json(w =>
                    {
                        w.WriteString("op", which);
                        w.WriteNumber("connections", n);
                        w.WriteNumber("seconds", Math.Round(elapsed.TotalSeconds, 3));
                        w.WriteNumber("ops", all.Length);
                        w.WriteNumber("opsPerSecond", Math.Round(opsPerSecond));
                        w.WriteNumber("p50Us", Math.Round(p50, 1));
                        w.WriteNumber("p99Us", Math.Round(p99, 1));
                    });
                }
                else
                {
                    var note = which == "set" ? " (set has no reply: each op is SET + PING)" : "";
                    io.Line(string.Create(CultureInfo.InvariantCulture,
                        $"{which}: {all.Length} ops in {elapsed.TotalSeconds:0.00} s over {n} connection(s) = {opsPerSecond:0} ops/s; latency p50 {p50:0.0} µs, p99 {p99:0.0} µs{note}"));
                }

                for (var i = 0; i < n; i++)
                {
                    await first.DeleteKeyAsync($"{run}/{i}", ct);
                    await first.DeleteKeyAsync($"{run}/{i}/n", ct);
                }

                return TcpStoreCli.Ok;
            }
            finally
            {
                foreach (var c in clients.Skip(1)) c.Dispose();
            }
        }));
        return command;
    }

    private static Command Storm(Io io)
    {
        var clients = new Option<int>("--clients", "-c") { Description = "Clients. Default: 64.", DefaultValueFactory = _ => 64 };
        var command = new Command(
            "storm", "C clients connect at once, each ADDs to a counter and waits for a barrier key set by the last one.")
        {
            clients,
        };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (first, ct) =>
        {
            var n = p.GetValue(clients);
            if (n < 1) throw new ArgumentException("--clients must be positive");
            var run = $"bench/storm/{Guid.NewGuid():N}"[..24];
            var started = Stopwatch.GetTimestamp();
            var connected = new TcpStoreClient[n];
            try
            {
                await Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(async () =>
                {
                    var c = connected[i] = first.Clone();
                    await c.ConnectAsync(ct);
                    if (await c.AddAsync($"{run}/arrived", 1, ct) == n) await c.SetAsync($"{run}/go", "1", ct);
                    await c.WaitAsync($"{run}/go", null, ct);
                }, ct)));
                var elapsed = Stopwatch.GetElapsedTime(started);
                if (s.Json(p))
                {
                    io.Json(w =>
                    {
                        w.WriteNumber("clients", n);
                        w.WriteNumber("totalMs", Math.Round(elapsed.TotalMilliseconds, 1));
                    });
                }
                else
                {
                    io.Line(string.Create(CultureInfo.InvariantCulture,
                        $"storm: {n} clients connected, added and passed the barrier in {elapsed.TotalMilliseconds:0.0} ms"));
                }

                await first.DeleteKeyAsync($"{run}/arrived", ct);
                await first.DeleteKeyAsync($"{run}/go", ct);
                return TcpStoreCli.Ok;
            }
            finally
            {
                foreach (var c in connected) c?.Dispose();
            }
        }));
        return command;
    }

    private static double Micros(long[] sorted, double quantile)
    {
        if (sorted.Length == 0) return 0;
        var index = Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1);
        return sorted[Math.Max(0, index)] * 1_000_000.0 / Stopwatch.Frequency;
    }
}
