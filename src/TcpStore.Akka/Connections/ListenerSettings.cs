using System.Net;
using Akka.Configuration;
using TcpStore.Akka.Configuration;
using TcpStore.Protocol;

namespace TcpStore.Akka.Connections;

/// <summary>
/// The listener's slice of the settings: where it binds, who may connect, and what each connection may send and hold
/// (<c>tcpstore.host</c>, <c>port</c>, <c>backlog</c>, <c>allowed-networks</c>, <c>limits</c>, <c>tcp</c>; see
/// <c>hocon/reference.conf</c>).
/// </summary>
/// <param name="Host">Address to bind.</param>
/// <param name="Port">TCP port; 0 picks a free one.</param>
/// <param name="Backlog">Listen backlog.</param>
/// <param name="AllowedNetworks">Client networks allowed to connect; empty allows every address.</param>
/// <param name="MaxConnections">Open connections at most; one more is closed on accept.</param>
/// <param name="WireLimits">What one request may carry (checked by the decoder).</param>
/// <param name="MaxBufferedBytesPerConnection">Unsent reply bytes one connection may hold.</param>
/// <param name="Transport">How sockets are served (resolved: never auto).</param>
/// <param name="EventLoops">The event loops of the epoll transport.</param>
/// <param name="ConnectionHosts">Stream actors that run the connections with the sockets transport (resolved: never
/// 0); the epoll transport runs one per event loop.</param>
/// <param name="ReceiveChunkBytes">Bytes read at once after a read that filled its buffer.</param>
/// <param name="NoDelay">TCP_NODELAY on accepted sockets.</param>
/// <param name="KeepAlive">TCP keepalive on accepted sockets.</param>
public sealed record ListenerSettings(
    string Host,
    int Port,
    int Backlog,
    IReadOnlyList<IPNetwork> AllowedNetworks,
    int MaxConnections,
    WireLimits WireLimits,
    int MaxBufferedBytesPerConnection,
    TcpTransport Transport,
    EventLoopSettings EventLoops,
    int ConnectionHosts,
    int ReceiveChunkBytes,
    bool NoDelay,
    KeepAliveSettings KeepAlive)
{
    /// <summary>Reads the listener's keys from a <c>tcpstore</c> section that has every key (defaults included).</summary>
    public static ListenerSettings Create(Config tcpstore)
    {
        var keepAlive = tcpstore.GetConfig("tcp.keepalive");
        return new ListenerSettings(
            Host: tcpstore.GetString("host"),
            Port: SettingsReader.Int(tcpstore, "port", 0, 65535),
            Backlog: SettingsReader.Positive(tcpstore, "backlog"),
            AllowedNetworks: ParseNetworks(tcpstore.GetStringList("allowed-networks")),
            MaxConnections: SettingsReader.Positive(tcpstore, "limits.max-connections"),
            WireLimits: new WireLimits(
                MaxKeyBytes: SettingsReader.Positive(tcpstore, "limits.max-key-bytes"),
                MaxValueBytes: SettingsReader.Positive(tcpstore, "limits.max-value-bytes"),
                MaxKeysPerRequest: SettingsReader.Positive(tcpstore, "limits.max-keys-per-request")),
            MaxBufferedBytesPerConnection: SettingsReader.Positive(tcpstore, "limits.max-buffered-bytes-per-connection"),
            Transport: ParseTransport(tcpstore.GetString("tcp.transport")),
            EventLoops: new EventLoopSettings(
                Count: SettingsReader.Int(tcpstore, "tcp.event-loops.count", 0, 256) switch
                {
                    0 => EventLoopSettings.DefaultCount(Environment.ProcessorCount),
                    var count => count,
                },
                Throughput: SettingsReader.Positive(tcpstore, "tcp.event-loops.throughput"),
                StoreOnLoop: tcpstore.GetBoolean("tcp.event-loops.store-on-loop"),
                MaxTurn: SettingsReader.PositiveTime(tcpstore, "tcp.event-loops.max-turn")),
            ConnectionHosts: SettingsReader.Int(tcpstore, "tcp.connection-hosts", 0, 4096) switch
            {
                0 => Environment.ProcessorCount,
                var hosts => hosts,
            },
            ReceiveChunkBytes: SettingsReader.Int(tcpstore, "tcp.receive-chunk-bytes", 512, 16 * 1024 * 1024),
            NoDelay: tcpstore.GetBoolean("tcp.no-delay"),
            KeepAlive: new KeepAliveSettings(
                Enabled: keepAlive.GetBoolean("enabled"),
                Idle: keepAlive.GetTimeSpan("idle"),
                Interval: keepAlive.GetTimeSpan("interval"),
                Probes: SettingsReader.Positive(tcpstore, "tcp.keepalive.probes")));
    }

    /// <summary>The limits the listener and its connections enforce, in one line for the log.</summary>
    public string DescribeLimits() =>
        $"limits: key {WireLimits.MaxKeyBytes} B, value {WireLimits.MaxValueBytes} B, " +
        $"{WireLimits.MaxKeysPerRequest} keys/request, {MaxConnections} connections, " +
        $"{MaxBufferedBytesPerConnection} buffered B/connection";

    /// <summary>Whether a peer may connect: the allowlist is empty, or one of its networks holds the address.</summary>
    public bool IsAllowed(IPAddress peer)
    {
        if (AllowedNetworks.Count == 0) return true;
        var address = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
        foreach (var network in AllowedNetworks)
        {
            if (network.Contains(address)) return true;
        }

        return false;
    }

    /// <summary>
    /// <c>tcp.transport</c>: <c>epoll</c> (Linux only), <c>sockets</c>, or <c>auto</c>, which is epoll on Linux and
    /// sockets elsewhere.
    /// </summary>
    internal static TcpTransport ParseTransport(string? value) => value?.ToLowerInvariant() switch
    {
        "auto" or "" or null => OperatingSystem.IsLinux() ? TcpTransport.Epoll : TcpTransport.Sockets,
        "epoll" when OperatingSystem.IsLinux() => TcpTransport.Epoll,
        "epoll" => throw new ConfigurationException(
            $"{TcpStoreSettings.ConfigPath}.tcp.transport = epoll needs Linux; use sockets (or auto) on this system."),
        "sockets" => TcpTransport.Sockets,
        _ => throw new ConfigurationException(
            $"{TcpStoreSettings.ConfigPath}.tcp.transport = \"{value}\": expected auto, epoll or sockets."),
    };

    private static IPNetwork[] ParseNetworks(IList<string> blocks) =>
        blocks.Select(block => IPNetwork.TryParse(block, out var network)
                ? network
                : throw new ConfigurationException(
                    $"{TcpStoreSettings.ConfigPath}.allowed-networks: \"{block}\" is not a CIDR block (e.g. 10.0.0.0/8)."))
            .ToArray();
}

/// <summary>How the listener serves its sockets (<c>tcpstore.tcp.transport</c>).</summary>
public enum TcpTransport
{
    /// <summary>Event loops over Linux's epoll run the sockets, the connections' streams and (by default) the store.</summary>
    Epoll,

    /// <summary>.NET sockets, completing on the thread pool: the portable transport.</summary>
    Sockets,
}

/// <summary>The epoll transport's event loops (<c>tcpstore.tcp.event-loops</c>).</summary>
/// <param name="Count">Loop threads (resolved: never 0).</param>
/// <param name="Throughput">Messages an actor on a loop handles per turn before the loop moves on.</param>
/// <param name="StoreOnLoop">The standalone store runs on loop 0 rather than on the default dispatcher.</param>
/// <param name="MaxTurn">The longest a loop runs queued work (and one actor's turn on it lasts) before it polls its
/// sockets again.</param>
public sealed record EventLoopSettings(int Count, int Throughput, bool StoreOnLoop, TimeSpan MaxTurn)
{
    /// <summary>The loop count <c>count = 0</c> stands for on <paramref name="processors"/> processors.</summary>
    public static int DefaultCount(int processors) => Math.Max(1, processors / 4);
}

/// <summary>TCP keepalive on accepted sockets (<c>tcpstore.tcp.keepalive</c>).</summary>
public sealed record KeepAliveSettings(bool Enabled, TimeSpan Idle, TimeSpan Interval, int Probes);
