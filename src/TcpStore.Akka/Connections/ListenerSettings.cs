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
/// <param name="ConnectionHosts">Stream actors that run the connections (resolved: never 0).</param>
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

    private static IPNetwork[] ParseNetworks(IList<string> blocks) =>
        blocks.Select(block => IPNetwork.TryParse(block, out var network)
                ? network
                : throw new ConfigurationException(
                    $"{TcpStoreSettings.ConfigPath}.allowed-networks: \"{block}\" is not a CIDR block (e.g. 10.0.0.0/8)."))
            .ToArray();
}

/// <summary>TCP keepalive on accepted sockets (<c>tcpstore.tcp.keepalive</c>).</summary>
public sealed record KeepAliveSettings(bool Enabled, TimeSpan Idle, TimeSpan Interval, int Probes);
