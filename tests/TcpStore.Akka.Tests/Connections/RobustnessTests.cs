using System.Diagnostics;
using System.Net.Sockets;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>Hostile input and dead peers over real sockets: nothing lost, nobody else hurt.</summary>
public abstract class RobustnessTests(string transport)
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    private static async Task<List<(string Key, string Value)>> WriteGoodKeysAsync(RawClient good, int count)
    {
        var keys = Enumerable.Range(0, count).Select(i => ($"/good/{i}", $"value-{i}-{new string('v', i)}")).ToList();
        await good.SendAsync(keys.Select(k => Set(k.Item1, k.Item2)).ToArray());
        return keys;
    }

    private static async Task AssertGoodKeysAsync(RawClient good, List<(string Key, string Value)> keys)
    {
        await good.SendAsync(MultiGet(keys.Select(k => k.Key).ToArray()));
        foreach (var (_, value) in keys) Assert.Equal(value, await good.ReadStringAsync());
    }

    /// <summary>One fuzz case: random bytes, or well-formed frames with bytes flipped, cut, or lengths inflated.</summary>
    private static byte[] FuzzCase(Random random, int i)
    {
        byte[][] frames =
        [
            Set($"/fuzz/{i}", "x"), Get($"/fuzz/{i}"), Add($"/fuzz/c{i}", 3), Wait($"/fuzz/w{i}", "/fuzz/shared"),
            MultiSet(($"/fuzz/m{i}", "1"), ($"/fuzz/n{i}", "2")), MultiGet("/fuzz/a", "/fuzz/b"), QueuePush("/fuzz/q", "i"),
            QueuePop("/fuzz/q"), CompareSet($"/fuzz/{i}", "x", "y"), Check("/fuzz/a"), ListKeys(), Ping((uint)i),
            DeleteKey($"/fuzz/{i}"), Append($"/fuzz/{i}", "z"), CancelWait(), GetNumKeys(), QueueLen("/fuzz/q"),
        ];
        var body = Cat(Enumerable.Range(0, random.Next(1, 6)).Select(_ => frames[random.Next(frames.Length)]).ToArray());
        switch (random.Next(5))
        {
            case 0: // pure noise, no VALIDATE
                var noise = new byte[random.Next(1, 2048)];
                random.NextBytes(noise);
                return noise;
            case 1: // VALIDATE then noise
                var tail = new byte[random.Next(1, 2048)];
                random.NextBytes(tail);
                return Cat(Validate, tail);
            case 2: // flipped bytes
                var flipped = Cat(Validate, body);
                for (var n = random.Next(1, 4); n > 0; n--) flipped[random.Next(5, flipped.Length)] = (byte)random.Next(256);
                return flipped;
            case 3: // cut short
                var cut = Cat(Validate, body);
                return cut[..random.Next(1, cut.Length)];
            default: // an inflated length or count somewhere after the type byte
                var inflated = Cat(Validate, body);
                var at = random.Next(6, Math.Max(7, inflated.Length - 8));
                if (at + 8 <= inflated.Length) U64((ulong)random.NextInt64(1L << 20, long.MaxValue)).CopyTo(inflated, at);
                return inflated;
        }
    }

    [Fact]
    public async Task Fuzzed_frames_over_sockets_change_no_good_key_and_hurt_no_other_client()
    {
        await using var server = await StartServerAsync("akka.loglevel = ERROR");
        await using var good = await RawClient.ConnectAsync(server.Port);
        var keys = await WriteGoodKeysAsync(good, 50);
        await AssertGoodKeysAsync(good, keys);

        var random = new Random(20261127);
        var cases = Enumerable.Range(0, 600).Select(i => FuzzCase(random, i)).ToArray();
        var clock = Stopwatch.StartNew();
        var next = -1;
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < cases.Length && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await using var fuzz = await RawClient.ConnectAsync(server.Port, validate: false);
                try
                {
                    await fuzz.SendAsync(cases[i]);
                    await fuzz.NothingArrivesAsync(TimeSpan.FromMilliseconds(2)); // not a check: lingers a moment
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    // the server closed it mid-send: fine
                }
            }
        });
        var probe = Task.Run(async () =>
        {
            // A well-behaved client keeps getting prompt answers while the fuzzing goes on.
            await using var other = await RawClient.ConnectAsync(server.Port);
            for (uint n = 0; clock.Elapsed < TimeSpan.FromSeconds(2); n++)
            {
                await other.SendAsync(Ping(n));
                Assert.Equal(n, await other.ReadUInt32Async());
            }
        });
        await Task.WhenAll(workers.Append(probe));
        Assert.True(next >= 100, $"only {next} fuzz cases ran");

        await AssertGoodKeysAsync(good, keys);
        await good.SendAsync(Ping(77));
        Assert.Equal(77u, await good.ReadUInt32Async());
        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await server.StatsAsync()).WaiterRegistrations == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_client_that_never_reads_is_cut_off_at_its_buffer_limit_and_others_are_served()
    {
        await using var server = await StartServerAsync(
            "tcpstore.limits.max-buffered-bytes-per-connection = 4194304\nakka.loglevel = ERROR");
        await using var other = await RawClient.ConnectAsync(server.Port);
        await other.SendAsync(Set("/big", new byte[1 << 20]), Ping(0));
        Assert.Equal(0u, await other.ReadUInt32Async());

        await using var hog = await RawClient.ConnectAsync(server.Port);
        hog.Socket.ReceiveBufferSize = 64 * 1024;
        var gets = Enumerable.Repeat(Get("/big"), 200).ToArray();
        var sending = Task.Run(async () =>
        {
            try
            {
                foreach (var batch in gets.Chunk(10)) await hog.SendAsync(batch);
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // closed by the server while we were still sending
            }
        });

        var latency = Stopwatch.StartNew();
        for (uint n = 1; n <= 20; n++)
        {
            await other.SendAsync(Ping(n));
            Assert.Equal(n, await other.ReadUInt32Async());
        }

        Assert.True(latency.Elapsed < TimeSpan.FromSeconds(5), $"20 pings took {latency.Elapsed}");
        await sending;
        Assert.True(await hog.ClosedByServerAsync(TimeSpan.FromSeconds(20)));
        await other.SendAsync(Get("/big"));
        Assert.Equal(1 << 20, (await other.ReadVectorAsync()).Length);
    }

    [Fact]
    public async Task Ten_thousand_connections_that_wait_and_die_leave_no_registrations()
    {
        await using var server = await StartServerAsync("akka.loglevel = ERROR");
        const int rounds = 10, perRound = 1000;
        for (var round = 0; round < rounds; round++)
        {
            var clients = await Task.WhenAll(Enumerable.Range(0, perRound).Select(async i =>
            {
                var client = await RawClient.ConnectAsync(server.Port);
                await client.SendAsync(Wait($"/dead/{round}/{i}", "/dead/shared"), Ping((uint)i));
                return client;
            }));
            // Every WAIT is registered before its connection dies; half close with FIN, half with RST.
            Assert.True(await TestStoreServer.EventuallyAsync(
                async () => (await server.StatsAsync()).WaitingConnections == perRound, TimeSpan.FromSeconds(30)));
            for (var i = 0; i < clients.Length; i++)
            {
                if (i % 2 == 0) clients[i].Socket.LingerState = new LingerOption(true, 0);
                await clients[i].DisposeAsync();
            }

            Assert.True(await TestStoreServer.EventuallyAsync(
                async () => (await server.StatsAsync()).WaiterRegistrations == 0, TimeSpan.FromSeconds(30)));
        }

        var stats = await server.StatsAsync();
        Assert.Equal(0, stats.WaiterRegistrations);
        Assert.Equal(0, stats.WaitingConnections);
    }
}

/// <summary><see cref="RobustnessTests"/> over the epoll transport.</summary>
public sealed class RobustnessTestsOverEpoll() : RobustnessTests("epoll");

/// <summary><see cref="RobustnessTests"/> over the .NET sockets transport.</summary>
public sealed class RobustnessTestsOverSockets() : RobustnessTests("sockets");
