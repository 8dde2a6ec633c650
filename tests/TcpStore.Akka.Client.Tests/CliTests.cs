using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using TcpStore.Akka.Cli;
using TcpStore.Akka.Store;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Client.Tests;

/// <summary>Our server, shared by the CLI tests (each test uses its own keys).</summary>
public sealed class CliServerFixture : IAsyncLifetime
{
    public TestStoreServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestStoreServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The <c>tcpstore</c> verbs, run in process through <see cref="TcpStoreCli.RunAsync"/>: output and exit codes.</summary>
public sealed class CliTests(CliServerFixture fixture) : IClassFixture<CliServerFixture>
{
    private readonly string _ns = $"cli-{Guid.NewGuid():N}"[..12] + "/";

    private string K(string name) => _ns + name;

    /// <summary>Whether a WAIT on <paramref name="key"/> (as on the wire) is registered at the fixture's store.</summary>
    private async Task<bool> IsAwaitedAsync(string key)
    {
        var waiters = await fixture.Server.Store.Ask<StoreProtocol.Waiters>(new StoreProtocol.GetWaiters(), TimeSpan.FromSeconds(5));
        return waiters.Keys.Any(awaited => Encoding.UTF8.GetString(awaited.Key) == key);
    }

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string[] common = ["--host", "127.0.0.1", "--port", fixture.Server.Port.ToString()];
        // the connection options go right after the verb (before any "--")
        var verbLength = args[0] is "queue" or "bench" ? 2 : 1;
        var all = args[..verbLength].Concat(common).Concat(args[verbLength..]).ToArray();
        var code = await TcpStoreCli.RunAsync(all, output, error).WaitAsync(TimeSpan.FromSeconds(30));
        return (code, output.ToString().TrimEnd('\n'), error.ToString().TrimEnd('\n'));
    }

    private async Task<TcpStoreClient> ClientAsync(string prefix = "/") =>
        await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions
        {
            Host = "127.0.0.1", Port = fixture.Server.Port, Timeout = TimeSpan.FromSeconds(5), KeyPrefix = prefix,
        });

    [Fact]
    public async Task Set_get_and_a_missing_key()
    {
        Assert.Equal((0, "OK", ""), await Run("set", K("greeting"), "hello world"));
        Assert.Equal((0, "hello world", ""), await Run("get", K("greeting")));
        Assert.Equal((1, "", $"tcpstore: key '{K("nope")}' not found"), await Run("get", K("nope")));

        // the CLI's keys are PyTorch's keys: "/" on the wire
        await using var raw = await ClientAsync(prefix: "");
        Assert.Equal("hello world", await raw.GetStringAsync("/" + K("greeting")));
    }

    [Fact]
    public async Task Barrier_waits_for_the_world_size_and_times_out_with_pytorchs_message()
    {
        var first = Run("barrier", K("meet"), "2", "--timeout", "10s");
        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await fixture.Server.StatsAsync()).WaitingConnections > 0, TimeSpan.FromSeconds(10)),
            "the first arrival never registered");
        Assert.Equal((0, "released", ""), await Run("barrier", K("meet"), "2"));
        Assert.Equal((0, "released", ""), await first);

        Assert.Equal((1, "", $"tcpstore: barrier timeout after 200ms, key: {K("alone")}"),
            await Run("barrier", K("alone"), "2", "--timeout", "200ms"));
    }

    [Fact]
    public async Task Get_wait_blocks_until_the_key_exists_or_times_out()
    {
        var (code, _, err) = await Run("get", K("late"), "--wait", "--timeout", "200ms");
        Assert.Equal(1, code);
        Assert.Equal($"tcpstore: wait timeout after 200ms, keys: /{K("late")}", err);

        var get = Run("get", K("late2"), "--wait", "--timeout", "10s");
        // Blocked means its WAIT is registered at the store; only then is the key set, so the SET cannot come first.
        Assert.True(await TestStoreServer.EventuallyAsync(() => IsAwaitedAsync("/" + K("late2")), TimeSpan.FromSeconds(10)),
            "the CLI's WAIT never reached the store");
        Assert.False(get.IsCompleted);
        await using var client = await ClientAsync();
        await client.SetAsync(K("late2"), "arrived");
        Assert.Equal((0, "arrived", ""), await get);
    }

    [Fact]
    public async Task Binary_values_print_as_hex_or_base64_and_can_be_given_as_hex()
    {
        Assert.Equal((0, "OK", ""), await Run("set", K("bin"), "00ff10", "--input", "hex"));
        Assert.Equal((0, "00ff10", ""), await Run("get", K("bin")));
        Assert.Equal((0, "AP8Q", ""), await Run("get", K("bin"), "--binary", "base64"));
        var (code, json, _) = await Run("get", K("bin"), "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("00ff10", doc.RootElement.GetProperty("value").GetString());
        Assert.Equal("hex", doc.RootElement.GetProperty("encoding").GetString());
        Assert.Equal((0, "OK", ""), await Run("set", K("b64"), "aGk=", "--input", "base64"));
        Assert.Equal((0, "hi", ""), await Run("get", K("b64")));
        Assert.Equal(2, (await Run("set", K("bad"), "zz", "--input", "hex")).Code);
    }

    [Fact]
    public async Task Add_cas_check_wait_del()
    {
        Assert.Equal((0, "5", ""), await Run("add", K("n"), "5"));
        Assert.Equal((0, "6", ""), await Run("add", K("n")));
        Assert.Equal((0, "1", ""), await Run("add", K("n"), "--", "-5"));

        Assert.Equal((0, "v1", ""), await Run("cas", K("c"), "", "v1"));
        Assert.Equal((1, "v1", ""), await Run("cas", K("c"), "wrong", "v2"));
        var (code, json, _) = await Run("cas", K("c"), "v1", "v2", "--json");
        Assert.Equal(0, code);
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.True(doc.RootElement.GetProperty("swapped").GetBoolean());
            Assert.Equal("v2", doc.RootElement.GetProperty("value").GetString());
        }

        Assert.Equal((0, "ready", ""), await Run("check", K("n"), K("c")));
        Assert.Equal((1, "not ready", ""), await Run("check", K("n"), K("missing")));
        Assert.Equal((0, "ready", ""), await Run("wait", K("n"), K("c")));
        Assert.Equal(
            (1, "", $"tcpstore: wait timeout after 100ms, keys: /{K("n")}, /{K("missing")}"),
            await Run("wait", K("n"), K("missing"), "-t", "100ms"));

        Assert.Equal((0, "deleted", ""), await Run("del", K("n")));
        Assert.Equal((1, "not found", ""), await Run("del", K("n")));
    }

    [Fact]
    public async Task Keys_num_keys_and_raw()
    {
        await using var server = await TestStoreServer.StartAsync();
        string[] at = ["--host", "127.0.0.1", "--port", server.Port.ToString()];
        async Task<(int, string)> Local(params string[] args)
        {
            var output = new StringWriter();
            var code = await TcpStoreCli.RunAsync(args.Concat(at).ToArray(), output, new StringWriter());
            return (code, output.ToString().TrimEnd('\n'));
        }

        Assert.Equal((0, ""), await Local("keys"));
        Assert.Equal((0, "0"), await Local("num-keys"));
        await Local("set", "b", "1");
        await Local("set", "a", "2");
        await Local("add", "init/", "1", "--raw");
        Assert.Equal((0, "a\nb"), await Local("keys"));
        Assert.Equal((0, "[\"/a\",\"/b\",\"init/\"]"), await Local("keys", "--raw", "--json"));
        Assert.Equal((0, "3"), await Local("num-keys"));
        Assert.Equal((0, "{\"numKeys\":3}"), await Local("num-keys", "--json"));
        Assert.Equal((0, "1"), await Local("get", "init/", "--raw"));
        Assert.Equal((0, "OK"), await Local("set", "x", "y", "--prefix", "job/"));
        Assert.Equal((0, "x"), await Local("keys", "--prefix", "job/"));
    }

    [Fact]
    public async Task Queue_push_len_pop()
    {
        Assert.Equal((0, "OK", ""), await Run("queue", "push", K("q"), "job1"));
        Assert.Equal((0, "OK", ""), await Run("queue", "push", K("q"), "job2"));
        Assert.Equal((0, "2", ""), await Run("queue", "len", K("q")));
        Assert.Equal((0, "job1", ""), await Run("queue", "pop", K("q")));
        Assert.Equal((0, "job2", ""), await Run("queue", "pop", K("q"), "--wait"));
        Assert.Equal((1, "", "tcpstore: queue is empty"), await Run("queue", "pop", K("q")));
        Assert.Equal(
            (1, "", $"tcpstore: wait timeout after 100ms, keys: /{K("q")}"),
            await Run("queue", "pop", K("q"), "--wait", "--timeout", "100ms"));
        Assert.Equal((0, "{\"key\":\"" + K("q") + "\",\"length\":0}", ""), await Run("queue", "len", K("q"), "--json"));
    }

    [Fact]
    public async Task Ping_reports_a_round_trip()
    {
        var (code, text, _) = await Run("ping");
        Assert.Equal(0, code);
        Assert.StartsWith($"PONG from 127.0.0.1:{fixture.Server.Port} in ", text);
        var (jcode, json, _) = await Run("ping", "--json");
        Assert.Equal(0, jcode);
        using var doc = JsonDocument.Parse(json);
        Assert.True(doc.RootElement.GetProperty("rttMs").GetDouble() >= 0);
    }

    [Theory]
    [InlineData("")]
    [InlineData("frobnicate")]
    [InlineData("get")]
    [InlineData("set only-key")]
    [InlineData("add k not-a-number")]
    [InlineData("get k --timeout soon")]
    [InlineData("get k --binary octal")]
    [InlineData("get k --port 70000")]
    [InlineData("queue pop")]
    [InlineData("bench ops --op dance")]
    public async Task Usage_errors_exit_2(string commandLine)
    {
        var args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var error = new StringWriter();
        Assert.Equal(2, await TcpStoreCli.RunAsync(args, new StringWriter(), error));
        Assert.StartsWith("tcpstore: ", error.ToString());
    }

    [Fact]
    public async Task Help_exits_0()
    {
        var output = new StringWriter();
        Assert.Equal(0, await TcpStoreCli.RunAsync(["--help"], output, new StringWriter()));
        foreach (var verb in new[] { "serve", "get", "set", "add", "cas", "check", "wait", "barrier", "del", "keys", "num-keys", "queue", "ping", "status", "stores", "bench" })
            Assert.Contains(verb, output.ToString());
    }

    [Fact]
    public async Task No_server_exits_3_after_the_connect_timeout()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var error = new StringWriter();
        var started = Stopwatch.StartNew();
        var code = await TcpStoreCli.RunAsync(
            ["get", "k", "--host", "127.0.0.1", "--port", port.ToString(), "--connect-timeout", "300ms"],
            new StringWriter(), error);
        Assert.Equal(3, code);
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(10));
        Assert.Contains($"while trying to connect to (127.0.0.1, {port})", error.ToString());
    }

    [Fact]
    public async Task A_connection_the_server_drops_exits_3()
    {
        await using var client = await ClientAsync();
        await client.SetAsync(K("text"), "abc");
        Assert.True(await client.CheckAsync(K("text"))); // SET has no reply: a round trip orders it
        var (code, _, err) = await Run("add", K("text"), "1"); // the server closes the connection: not a number
        Assert.Equal(3, code);
        Assert.Contains("Connection was likely closed", err);
    }

    [Fact]
    public async Task Bench_ops_and_storm_print_figures()
    {
        var (code, text, err) = await Run("bench", "ops", "--connections", "2", "--seconds", "0.3", "--op", "get");
        Assert.True(code == 0, err);
        Assert.Matches(@"^get: \d+ ops in 0\.\d\d s over 2 connection\(s\) = \d+ ops/s; latency p50 [\d.]+ µs, p99 [\d.]+ µs$", text);

        var (scode, json, serr) = await Run("bench", "storm", "--clients", "16", "--json");
        Assert.True(scode == 0, serr);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(16, doc.RootElement.GetProperty("clients").GetInt32());
        Assert.True(doc.RootElement.GetProperty("totalMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Serve_runs_the_standalone_server_as_a_process_and_status_reads_its_admin_endpoint()
    {
        var cli = BuiltAssembly.PathOf(typeof(CliTests).Assembly, "CliAssembly");
        await using var server = ServerProcess.Start(cli, "tcpstore serve",
            "serve", "--host", "127.0.0.1", "--port", "0", "--admin-port", "0");
        var port = await server.WaitForReadyAsync(TimeSpan.FromSeconds(60));
        var adminLine = server.Lines.Single(l => l.StartsWith("ADMIN ", StringComparison.Ordinal)); // before READY
        var adminPort = int.Parse(adminLine[6..]);
        string[] at = ["--host", "127.0.0.1", "--port", port.ToString()];
        Assert.Equal(0, await TcpStoreCli.RunAsync(["set", "k", "v", .. at], new StringWriter(), new StringWriter()));
        var output = new StringWriter();
        Assert.Equal(0, await TcpStoreCli.RunAsync(["get", "k", .. at], output, new StringWriter()));
        Assert.Equal("v\n", output.ToString());

        // status: a client waits on a key nobody sets; the admin endpoint names it and its waiter.
        var client = new TcpStoreClient(new TcpStoreClientOptions { Host = "127.0.0.1", Port = port });
        await client.ConnectAsync();
        var stuck = client.WaitAsync(["stuck-rank"], TimeSpan.FromSeconds(30));
        var status = new StringWriter();
        var admin = $"http://127.0.0.1:{adminPort}/";
        // Polled: the WAIT reaches the server asynchronously, and the status that shows it is what is tested.
        for (var i = 0; i < 50 && !status.ToString().Contains("/stuck-rank", StringComparison.Ordinal); i++)
        {
            status = new StringWriter();
            Assert.Equal(0, await TcpStoreCli.RunAsync(["status", "--admin", admin], status, new StringWriter()));
            await Task.Delay(100);
        }

        Assert.Contains("/stuck-rank", status.ToString());
        Assert.Contains("keys 1", status.ToString());
        var json = new StringWriter();
        Assert.Equal(0, await TcpStoreCli.RunAsync(["status", "--admin", admin, "--json"], json, new StringWriter()));
        Assert.Contains("\"/k\"", json.ToString());
        Assert.Equal(2, await TcpStoreCli.RunAsync(["status"], new StringWriter(), new StringWriter()));
        Assert.Equal(3, await TcpStoreCli.RunAsync(["status", "--admin", "http://127.0.0.1:1/"], new StringWriter(), new StringWriter()));
        await client.DisposeAsync();
        await Assert.ThrowsAnyAsync<Exception>(async () => await stuck);

        Assert.Equal(0, await server.StopAsync(TimeSpan.FromSeconds(30))); // SIGTERM
    }

    [Fact]
    public async Task Stores_are_created_listed_and_removed_through_a_servers_admin_endpoint()
    {
        var config = Path.Combine(Path.GetTempPath(), $"tcpstore-cli-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(config, "tcpstore.admin.store-management = on");
        try
        {
            var cli = BuiltAssembly.PathOf(typeof(CliTests).Assembly, "CliAssembly");
            await using var server = ServerProcess.Start(cli, "tcpstore serve",
                "serve", "--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--config", config);
            await server.WaitForReadyAsync(TimeSpan.FromSeconds(60));
            var admin = $"http://127.0.0.1:{server.Lines.Single(l => l.StartsWith("ADMIN ", StringComparison.Ordinal))[6..]}/";

            var created = new StringWriter();
            Assert.Equal(0, await TcpStoreCli.RunAsync(["stores", "create", "job-1", "--admin", admin], created, new StringWriter()));
            var port = created.ToString().Trim()[(created.ToString().Trim().LastIndexOf(':') + 1)..];
            Assert.Equal(0, await TcpStoreCli.RunAsync(["set", "rank0", "up", "--port", port], new StringWriter(), new StringWriter()));

            var list = new StringWriter();
            Assert.Equal(0, await TcpStoreCli.RunAsync(["stores", "list", "--admin", admin], list, new StringWriter()));
            Assert.Contains($"job-1\t127.0.0.1:{port}\t0\t1\t0", list.ToString());
            Assert.Contains("default\t", list.ToString());

            var refused = new StringWriter();
            Assert.Equal(1, await TcpStoreCli.RunAsync(["stores", "create", "job-1", "--admin", admin], new StringWriter(), refused));
            Assert.Contains("exists", refused.ToString());
            Assert.Equal(0, await TcpStoreCli.RunAsync(["stores", "remove", "job-1", "--admin", admin], new StringWriter(), new StringWriter()));
            Assert.Equal(1, await TcpStoreCli.RunAsync(["stores", "remove", "job-1", "--admin", admin], new StringWriter(), new StringWriter()));
            Assert.Equal(2, await TcpStoreCli.RunAsync(["stores", "list"], new StringWriter(), new StringWriter()));
        }
        finally
        {
            File.Delete(config);
        }
    }
}
