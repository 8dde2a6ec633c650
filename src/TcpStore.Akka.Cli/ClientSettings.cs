using System.CommandLine;
using System.CommandLine.Parsing;
using TcpStore.Akka.Client;

namespace TcpStore.Akka.Cli;

/// <summary>The options every client verb takes, and the mapping of client failures to exit codes.</summary>
internal sealed class ClientSettings
{
    private readonly Option<string> _host = new("--host", "-H")
    {
        Description = "Server host. Environment: MASTER_ADDR. Default: 127.0.0.1.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MASTER_ADDR") is { Length: > 0 } host ? host : "127.0.0.1",
    };

    private readonly Option<int> _port = new("--port", "-p")
    {
        Description = "Server port. Environment: MASTER_PORT. Default: 29500.",
        DefaultValueFactory = _ => int.TryParse(Environment.GetEnvironmentVariable("MASTER_PORT"), out var port) ? port : 29500,
    };

    private readonly Option<TimeSpan> _timeout = new("--timeout", "-t")
    {
        Description = "How long waits may take (get --wait, wait, queue pop --wait), e.g. 500ms, 30s, 5m. Default: 30s.",
        DefaultValueFactory = _ => TimeSpan.FromSeconds(30),
        CustomParser = ParseDuration,
    };

    private readonly Option<TimeSpan> _connectTimeout = new("--connect-timeout")
    {
        Description = "How long connecting may take, retries with backoff included. Default: 5s.",
        DefaultValueFactory = _ => TimeSpan.FromSeconds(5),
        CustomParser = ParseDuration,
    };

    private readonly Option<bool> _raw = new("--raw")
    {
        Description = "Use keys as they are on the wire, without PyTorch's '/' prefix (e.g. init/).",
    };

    private readonly Option<string> _prefix = new("--prefix")
    {
        Description = "Key prefix on the wire. Default: '/' (PyTorch's), so keys match Python's store.get/set.",
        DefaultValueFactory = _ => "/",
    };

    private readonly Option<bool> _json = new("--json") { Description = "Print results as JSON." };

    private readonly Option<string> _binary = new("--binary")
    {
        Description = "How to print values that are not printable text: hex or base64. Default: hex.",
        DefaultValueFactory = _ => "hex",
    };

    private readonly Option<string> _input = new("--input")
    {
        Description = "How VALUE arguments are given: text (UTF-8), hex or base64. Default: text.",
        DefaultValueFactory = _ => "text",
    };

    private bool _hasInput;

    public static ClientSettings AddTo(Command command, bool withInput = false)
    {
        var s = new ClientSettings();
        s._binary.AcceptOnlyFromAmong("hex", "base64");
        s._input.AcceptOnlyFromAmong("text", "hex", "base64");
        command.Options.Add(s._host);
        command.Options.Add(s._port);
        command.Options.Add(s._timeout);
        command.Options.Add(s._connectTimeout);
        command.Options.Add(s._raw);
        command.Options.Add(s._prefix);
        command.Options.Add(s._json);
        command.Options.Add(s._binary);
        if (withInput)
        {
            command.Options.Add(s._input);
            s._hasInput = true;
        }

        return s;
    }

    public bool Json(ParseResult p) => p.GetValue(_json);

    public string Binary(ParseResult p) => p.GetValue(_binary) ?? "hex";

    public byte[] Value(ParseResult p, string value) =>
        ValueFormat.Parse(value, _hasInput ? p.GetValue(_input) ?? "text" : "text");

    public TcpStoreClientOptions Options(ParseResult p) => new()
    {
        Host = p.GetValue(_host)!,
        Port = p.GetValue(_port),
        Timeout = p.GetValue(_timeout),
        ConnectTimeout = p.GetValue(_connectTimeout),
        KeyPrefix = p.GetValue(_raw) ? "" : p.GetValue(_prefix) ?? "/",
    };

    /// <summary>Connects, runs <paramref name="body"/>, and turns failures into exit codes and one line on standard error.</summary>
    public async Task<int> RunAsync(
        ParseResult p, Io io, CancellationToken ct, Func<TcpStoreClient, CancellationToken, Task<int>> body)
    {
        TcpStoreClientOptions options;
        try
        {
            options = Options(p);
            await using var client = new TcpStoreClient(options);
            try
            {
                await client.ConnectAsync(ct);
            }
            catch (TcpStoreException e)
            {
                io.Error(e.Message);
                return TcpStoreCli.ConnectionError;
            }

            return await body(client, ct);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            io.Error(e.Message);
            return TcpStoreCli.Usage;
        }
        catch (Exception e) when (e is TcpStoreTimeoutException or TcpStoreQueueEmptyException)
        {
            io.Error(e.Message);
            return TcpStoreCli.NotFound;
        }
        catch (TcpStoreException e)
        {
            io.Error(e.Message);
            return TcpStoreCli.ConnectionError;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            io.Error("canceled");
            return TcpStoreCli.NotFound;
        }
    }

    private static TimeSpan ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (ValueFormat.TryParseDuration(text, out var duration)) return duration;
        result.AddError($"'{text}' is not a duration (e.g. 500ms, 30s, 5m, or a number of seconds).");
        return default;
    }
}
