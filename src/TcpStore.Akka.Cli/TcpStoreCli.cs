using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using TcpStore.Akka.Client;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Server;
using TcpStore.Akka.Status;

namespace TcpStore.Akka.Cli;

/// <summary>
/// The <c>tcpstore</c> command line: <c>serve</c> runs the standalone server; the other verbs talk to any TCPStore
/// server through <see cref="TcpStoreClient"/>. Exit codes: <see cref="Ok"/>, <see cref="NotFound"/> (missing key,
/// empty queue, timeout, failed CAS, not ready), <see cref="Usage"/>, <see cref="ConnectionError"/>.
/// </summary>
public static class TcpStoreCli
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>Not found, timed out, not ready, queue empty, compare-and-set not applied.</summary>
    public const int NotFound = 1;

    /// <summary>Bad command line.</summary>
    public const int Usage = 2;

    /// <summary>Could not connect, or the connection broke.</summary>
    public const int ConnectionError = 3;

    /// <summary>Runs the command line <paramref name="args"/>, writing to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var root = Build(output, error);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) await error.WriteLineAsync($"tcpstore: {e.Message}");
            await error.WriteLineAsync("Run 'tcpstore --help' for usage.");
            return Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    private static RootCommand Build(TextWriter output, TextWriter error)
    {
        var root = new RootCommand(
            "tcpstore: run a TcpStore.Akka server, or read and write the keys of any PyTorch TCPStore server.\n" +
            "Exit codes: 0 ok, 1 not found/timeout, 2 usage, 3 connection error.");
        root.Subcommands.Add(Serve(error));
        var io = new Io(output, error);
        root.Subcommands.Add(Get(io));
        root.Subcommands.Add(Set(io));
        root.Subcommands.Add(Add(io));
        root.Subcommands.Add(Cas(io));
        root.Subcommands.Add(Check(io));
        root.Subcommands.Add(Wait(io));
        root.Subcommands.Add(Barrier(io));
        root.Subcommands.Add(Del(io));
        root.Subcommands.Add(Keys(io));
        root.Subcommands.Add(NumKeys(io));
        root.Subcommands.Add(Queue(io));
        root.Subcommands.Add(Ping(io));
        root.Subcommands.Add(Status(io));
        root.Subcommands.Add(Stores(io));
        root.Subcommands.Add(Bench.Command(io));
        return root;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // serve
    // ---------------------------------------------------------------------------------------------------------------

    private static Command Serve(TextWriter error) =>
        ServerCommandLine.Configure(
            new Command("serve", "Run the TcpStore.Akka server (the same as tcpstore-server); prints READY <port>."),
            error);

    // ---------------------------------------------------------------------------------------------------------------
    // key/value verbs
    // ---------------------------------------------------------------------------------------------------------------

    private static Command Get(Io io)
    {
        var key = new Argument<string>("key") { Description = "The key." };
        var wait = new Option<bool>("--wait")
        {
            Description = "Wait (up to --timeout) for the key to exist, as PyTorch's get() does. Default: answer at once.",
        };
        var command = new Command("get", "Print a key's value (exit 1 if it does not exist).") { key, wait };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(key)!;
            var value = p.GetValue(wait)
                ? await client.GetAsync(k, null, ct)
                : await client.TryGetAsync(k, ct);
            if (value is null)
            {
                if (s.Json(p)) io.Json(w => { w.WriteString("key", k); w.WriteBoolean("found", false); });
                io.Error($"key '{k}' not found");
                return NotFound;
            }

            var (text, encoding) = ValueFormat.Show(value, s.Binary(p));
            if (s.Json(p))
                io.Json(w => { w.WriteString("key", k); w.WriteString("value", text); w.WriteString("encoding", encoding); });
            else
                io.Line(text);
            return Ok;
        }));
        return command;
    }

    private static Command Set(Io io)
    {
        var key = new Argument<string>("key") { Description = "The key." };
        var value = new Argument<string>("value") { Description = "The value (see --input)." };
        var command = new Command("set", "Set a key's value.") { key, value };
        var s = ClientSettings.AddTo(command, withInput: true);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(key)!;
            await client.SetAsync(k, s.Value(p, p.GetValue(value)!), ct);
            await Confirm(client, ct);
            io.Done(s.Json(p), w => w.WriteString("key", k));
            return Ok;
        }));
        return command;
    }

    private static Command Add(Io io)
    {
        var key = new Argument<string>("key") { Description = "The counter's key." };
        var delta = new Argument<long>("delta") { Description = "What to add (may be negative).", DefaultValueFactory = _ => 1 };
        var command = new Command("add", "Add to a counter (a missing key counts as 0) and print the new value.") { key, delta };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(key)!;
            var result = await client.AddAsync(k, p.GetValue(delta), ct);
            if (s.Json(p)) io.Json(w => { w.WriteString("key", k); w.WriteNumber("value", result); });
            else io.Line(result.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return Ok;
        }));
        return command;
    }

    private static Command Cas(Io io)
    {
        var key = new Argument<string>("key") { Description = "The key." };
        var expected = new Argument<string>("expected") { Description = "The value it must have now (\"\" = must not exist)." };
        var desired = new Argument<string>("desired") { Description = "The value to store." };
        var command = new Command(
            "cas",
            "Compare-and-set: store DESIRED if the value is EXPECTED; print the value now stored (exit 1 if not swapped).")
        {
            key, expected, desired,
        };
        var s = ClientSettings.AddTo(command, withInput: true);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(key)!;
            var want = s.Value(p, p.GetValue(desired)!);
            var stored = await client.CompareSetAsync(k, s.Value(p, p.GetValue(expected)!), want, ct);
            var swapped = stored.AsSpan().SequenceEqual(want);
            var (text, encoding) = ValueFormat.Show(stored, s.Binary(p));
            if (s.Json(p))
            {
                io.Json(w =>
                {
                    w.WriteString("key", k);
                    w.WriteBoolean("swapped", swapped);
                    w.WriteString("value", text);
                    w.WriteString("encoding", encoding);
                });
            }
            else
            {
                io.Line(text);
            }

            return swapped ? Ok : NotFound;
        }));
        return command;
    }

    private static Command Check(Io io)
    {
        var keys = new Argument<string[]>("keys") { Description = "The keys.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("check", "Whether every key exists, without waiting (exit 1 if not).") { keys };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var ks = p.GetValue(keys)!;
            var ready = await client.CheckAsync(ks, ct);
            if (s.Json(p)) io.Json(w => { WriteKeys(w, ks); w.WriteBoolean("ready", ready); });
            else io.Line(ready ? "ready" : "not ready");
            return ready ? Ok : NotFound;
        }));
        return command;
    }

    private static Command Wait(Io io)
    {
        var keys = new Argument<string[]>("keys") { Description = "The keys.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("wait", "Wait until every key exists (exit 1 after --timeout).") { keys };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var ks = p.GetValue(keys)!;
            await client.WaitAsync(ks, null, ct);
            if (s.Json(p)) io.Json(w => { WriteKeys(w, ks); w.WriteBoolean("ready", true); });
            else io.Line("ready");
            return Ok;
        }));
        return command;
    }

    private static Command Barrier(Io io)
    {
        var key = new Argument<string>("key") { Description = "The barrier's key (it holds the count of arrivals)." };
        var worldSize = new Argument<long>("world-size") { Description = "How many arrivals release the barrier." };
        var command = new Command(
            "barrier",
            "Arrive at a barrier and wait until world-size arrivals were counted (PyTorch 2.12's store.barrier; " +
            "exit 1 after --timeout; servers before PyTorch 2.12 close the connection: exit 3).") { key, worldSize };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(key)!;
            var n = p.GetValue(worldSize);
            await client.BarrierAsync(k, n, null, ct);
            if (s.Json(p)) io.Json(w => { w.WriteString("key", k); w.WriteNumber("worldSize", n); w.WriteBoolean("released", true); });
            else io.Line("released");
            return Ok;
        }));
        return command;
    }

    private static Command Del(Io io)
    {
        var key = new Argument<string>("key") { Description = "The key." };
        var command = new Command("del", "Delete a key (exit 1 if it did not exist).") { key };
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(key)!;
            var deleted = await client.DeleteKeyAsync(k, ct);
            if (s.Json(p)) io.Json(w => { w.WriteString("key", k); w.WriteBoolean("deleted", deleted); });
            else io.Line(deleted ? "deleted" : "not found");
            return deleted ? Ok : NotFound;
        }));
        return command;
    }

    private static Command Keys(Io io)
    {
        var command = new Command(
            "keys", "List the keys, sorted (PyTorch's listKeys: '/' keys without the '/'; with --raw: every key).");
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var keys = (await client.ListKeysAsync(ct)).Order(StringComparer.Ordinal).ToList();
            if (s.Json(p)) io.JsonArray(keys);
            else foreach (var k in keys) io.Line(k);
            return Ok;
        }));
        return command;
    }

    private static Command NumKeys(Io io)
    {
        var command = new Command("num-keys", "Print the number of keys the server holds (every prefix, init/ included).");
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var n = await client.GetNumKeysAsync(ct);
            if (s.Json(p)) io.Json(w => w.WriteNumber("numKeys", n));
            else io.Line(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return Ok;
        }));
        return command;
    }

    private static Command Queue(Io io)
    {
        var queue = new Command("queue", "Queues (PyTorch's libuv server and ours): push, pop, len.");

        var pushKey = new Argument<string>("key") { Description = "The queue." };
        var pushValue = new Argument<string>("value") { Description = "The item (see --input)." };
        var push = new Command("push", "Append an item to a queue.") { pushKey, pushValue };
        var ps = ClientSettings.AddTo(push, withInput: true);
        push.SetAction((p, ct) => ps.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(pushKey)!;
            await client.QueuePushAsync(k, ps.Value(p, p.GetValue(pushValue)!), ct);
            await Confirm(client, ct);
            io.Done(ps.Json(p), w => w.WriteString("key", k));
            return Ok;
        }));

        var popKey = new Argument<string>("key") { Description = "The queue." };
        var wait = new Option<bool>("--wait")
        {
            Description = "Wait (up to --timeout) for an item, as PyTorch's queue_pop(block=True). Default: exit 1 if empty.",
        };
        var pop = new Command("pop", "Take the first item of a queue and print it.") { popKey, wait };
        var pops = ClientSettings.AddTo(pop);
        pop.SetAction((p, ct) => pops.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(popKey)!;
            var item = await client.QueuePopAsync(k, p.GetValue(wait), null, ct);
            var (text, encoding) = ValueFormat.Show(item, pops.Binary(p));
            if (pops.Json(p))
                io.Json(w => { w.WriteString("key", k); w.WriteString("value", text); w.WriteString("encoding", encoding); });
            else
                io.Line(text);
            return Ok;
        }));

        var lenKey = new Argument<string>("key") { Description = "The queue." };
        var len = new Command("len", "Print the number of items in a queue.") { lenKey };
        var ls = ClientSettings.AddTo(len);
        len.SetAction((p, ct) => ls.RunAsync(p, io, ct, async (client, ct) =>
        {
            var k = p.GetValue(lenKey)!;
            var n = await client.QueueLenAsync(k, ct);
            if (ls.Json(p)) io.Json(w => { w.WriteString("key", k); w.WriteNumber("length", n); });
            else io.Line(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return Ok;
        }));

        queue.Subcommands.Add(push);
        queue.Subcommands.Add(pop);
        queue.Subcommands.Add(len);
        return queue;
    }

    private static Command Ping(Io io)
    {
        var command = new Command("ping", "Connect (VALIDATE + PING) and measure one PING round trip.");
        var s = ClientSettings.AddTo(command);
        command.SetAction((p, ct) => s.RunAsync(p, io, ct, async (client, ct) =>
        {
            var rtt = await client.PingAsync(ct);
            var o = client.Options;
            if (s.Json(p))
            {
                io.Json(w =>
                {
                    w.WriteString("host", o.Host);
                    w.WriteNumber("port", o.Port);
                    w.WriteNumber("rttMs", Math.Round(rtt.TotalMilliseconds, 3));
                });
            }
            else
            {
                io.Line(FormattableString.Invariant($"PONG from {o.Host}:{o.Port} in {rtt.TotalMilliseconds:0.###} ms"));
            }

            return Ok;
        }));
        return command;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // status (the admin endpoint, not the store port)
    // ---------------------------------------------------------------------------------------------------------------

    private static Command Status(Io io)
    {
        var admin = AdminOption();
        var offset = new Option<int>("--offset") { Description = "First key of the page of keys present.", DefaultValueFactory = _ => 0 };
        var limit = new Option<int?>("--limit") { Description = "Keys per page (the server's default when absent)." };
        var json = new Option<bool>("--json") { Description = "Print the /status JSON." };
        var store = new Option<string?>("--store") { Description = "The store to show (default: the store named default)." };
        var command = new Command("status", "What a running server holds and who waits for which key (its admin endpoint).")
        {
            admin, offset, limit, json, store,
        };
        command.SetAction(async (p, ct) =>
        {
            if (AdminBase(p, admin, io, "status") is not { } baseUri) return Usage;
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                var report = await new AdminStatusClient(http).GetStatusAsync(
                    baseUri, p.GetValue(offset), p.GetValue(limit), ct, p.GetValue(store));
                io.Line(p.GetValue(json)
                    ? JsonSerializer.Serialize(report, AdminStatusClient.JsonOptions)
                    : AdminStatusClient.Format(report).TrimEnd('\n'));
                return Ok;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                io.Error($"could not read {baseUri}status: {e.Message}");
                return ConnectionError;
            }
        });
        return command;
    }

    private static Command Stores(Io io)
    {
        var command = new Command("stores", "List, create and remove a server's stores through its admin endpoint " +
                                            "(create and remove need tcpstore.admin.store-management = on).");
        var admin = AdminOption();
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var list = new Command("list", "Every store: name, address, connections, keys, waiting connections.") { admin, json };
        list.SetAction((p, ct) => WithAdmin(p, admin, io, "stores list", async (client, baseUri) =>
        {
            var stores = await client.ListStoresAsync(baseUri, ct);
            if (p.GetValue(json))
                io.Line(JsonSerializer.Serialize(stores, AdminStatusClient.JsonOptions));
            else
            {
                // Cluster mode adds the node that hosts each store; standalone output is as it was.
                var hosted = stores.Any(s => s.Host is not null);
                io.Line("STORE\tADDRESS\tCONNECTIONS\tKEYS\tWAITING" + (hosted ? "\tHOST" : ""));
                foreach (var s in stores)
                    io.Line($"{s.Name}\t{s.Address}\t{s.Connections}\t{s.Keys}\t{s.WaitingConnections}" + (hosted ? $"\t{s.Host}" : ""));
            }
            return Ok;
        }));

        var name = new Argument<string>("name") { Description = "The store's name (letters, digits, '-', '_')." };
        var port = new Option<int>("--port") { Description = "Its TCP port; 0 picks a free one.", DefaultValueFactory = _ => 0 };
        var createAdmin = AdminOption();
        var create = new Command("create", "Create a store; prints the address it listens on.") { name, port, createAdmin };
        create.SetAction((p, ct) => WithAdmin(p, createAdmin, io, "stores create", async (client, baseUri) =>
        {
            try
            {
                io.Line(await client.CreateStoreAsync(baseUri, p.GetValue(name)!, p.GetValue(port), ct));
                return Ok;
            }
            catch (InvalidOperationException e)
            {
                io.Error($"store '{p.GetValue(name)}' not created: {e.Message}");
                return NotFound;
            }
        }));

        var removeName = new Argument<string>("name") { Description = "The store's name." };
        var removeAdmin = AdminOption();
        var remove = new Command("remove", "Remove a store: its connections close, its port is freed, its keys dropped.")
        {
            removeName, removeAdmin,
        };
        remove.SetAction((p, ct) => WithAdmin(p, removeAdmin, io, "stores remove", async (client, baseUri) =>
        {
            try
            {
                if (await client.RemoveStoreAsync(baseUri, p.GetValue(removeName)!, ct))
                {
                    io.Line("removed");
                    return Ok;
                }
                io.Error($"no store named '{p.GetValue(removeName)}'");
                return NotFound;
            }
            catch (InvalidOperationException e)
            {
                io.Error($"store '{p.GetValue(removeName)}' not removed: {e.Message}");
                return NotFound;
            }
        }));

        command.Subcommands.Add(list);
        command.Subcommands.Add(create);
        command.Subcommands.Add(remove);
        return command;
    }

    private static Option<string?> AdminOption() => new("--admin")
    {
        Description = "The server's admin endpoint, e.g. http://127.0.0.1:29510/ (started with --admin-port). " +
                      "Environment: TCPSTORE_ADMIN_URL.",
    };

    private static Uri? AdminBase(ParseResult p, Option<string?> admin, Io io, string verb)
    {
        var url = p.GetValue(admin) ?? Environment.GetEnvironmentVariable("TCPSTORE_ADMIN_URL");
        if (url is not null && Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var baseUri))
            return baseUri;
        io.Error($"{verb} needs --admin URL (or TCPSTORE_ADMIN_URL), e.g. http://127.0.0.1:29510/");
        return null;
    }

    private static async Task<int> WithAdmin(
        ParseResult p, Option<string?> admin, Io io, string verb, Func<AdminStatusClient, Uri, Task<int>> action)
    {
        if (AdminBase(p, admin, io, verb) is not { } baseUri) return Usage;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            return await action(new AdminStatusClient(http), baseUri);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            io.Error($"could not reach {baseUri}: {e.Message}");
            return ConnectionError;
        }
    }

    /// <summary>
    /// SET and QUEUE_PUSH have no reply: a round trip through the store after them means the server has applied them,
    /// so "OK" is true and the next command (another connection) sees the value.
    /// </summary>
    private static Task Confirm(TcpStoreClient client, CancellationToken ct) => client.GetNumKeysAsync(ct);

    private static void WriteKeys(Utf8JsonWriter w, string[] keys)
    {
        w.WriteStartArray("keys");
        foreach (var k in keys) w.WriteStringValue(k);
        w.WriteEndArray();
    }
}
