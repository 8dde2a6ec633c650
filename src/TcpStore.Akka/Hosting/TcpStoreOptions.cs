using System.Text;
using Akka.Configuration;
using Akka.Hosting;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// Akka.Hosting options for the TcpStore server. Every property is optional: only the ones that are set are
/// written into HOCON (under <c>tcpstore</c>), so HOCON files and the embedded defaults fill in the rest.
/// </summary>
public sealed class TcpStoreOptions
{
    /// <summary><c>tcpstore.host</c>: the address to bind.</summary>
    public string? Host { get; set; }

    /// <summary><c>tcpstore.port</c>: the TCP port; 0 picks a free one.</summary>
    public int? Port { get; set; }

    /// <summary><c>tcpstore.allowed-networks</c>: CIDR blocks of the clients allowed to connect; empty allows all.</summary>
    public IList<string>? AllowedNetworks { get; set; }

    /// <summary><c>tcpstore.backlog</c>.</summary>
    public int? Backlog { get; set; }

    /// <summary><c>tcpstore.limits.max-key-bytes</c>.</summary>
    public int? MaxKeyBytes { get; set; }

    /// <summary><c>tcpstore.limits.max-value-bytes</c>.</summary>
    public int? MaxValueBytes { get; set; }

    /// <summary><c>tcpstore.limits.max-keys-per-request</c>.</summary>
    public int? MaxKeysPerRequest { get; set; }

    /// <summary><c>tcpstore.limits.max-queue-length</c>.</summary>
    public int? MaxQueueLength { get; set; }

    /// <summary><c>tcpstore.limits.max-connections</c>.</summary>
    public int? MaxConnections { get; set; }

    /// <summary><c>tcpstore.limits.max-buffered-bytes-per-connection</c>.</summary>
    public int? MaxBufferedBytesPerConnection { get; set; }

    /// <summary><c>tcpstore.tcp.receive-chunk-bytes</c>.</summary>
    public int? ReceiveChunkBytes { get; set; }

    /// <summary><c>tcpstore.tcp.connection-hosts</c> (0: one per processor; the sockets transport).</summary>
    public int? ConnectionHosts { get; set; }

    /// <summary><c>tcpstore.tcp.transport</c>: <c>auto</c>, <c>epoll</c> (Linux) or <c>sockets</c>.</summary>
    public string? Transport { get; set; }

    /// <summary><c>tcpstore.tcp.event-loops.count</c> (0: one per four processors, at least one).</summary>
    public int? EventLoops { get; set; }

    /// <summary><c>tcpstore.tcp.event-loops.throughput</c>.</summary>
    public int? EventLoopThroughput { get; set; }

    /// <summary><c>tcpstore.tcp.event-loops.store-on-loop</c>.</summary>
    public bool? StoreOnEventLoop { get; set; }

    /// <summary><c>tcpstore.tcp.event-loops.max-turn</c>.</summary>
    public TimeSpan? EventLoopMaxTurn { get; set; }

    /// <summary><c>tcpstore.tcp.no-delay</c>.</summary>
    public bool? NoDelay { get; set; }

    /// <summary><c>tcpstore.tcp.keepalive.enabled</c>.</summary>
    public bool? KeepAlive { get; set; }

    /// <summary><c>tcpstore.tcp.keepalive.idle</c>.</summary>
    public TimeSpan? KeepAliveIdle { get; set; }

    /// <summary><c>tcpstore.tcp.keepalive.interval</c>.</summary>
    public TimeSpan? KeepAliveInterval { get; set; }

    /// <summary><c>tcpstore.tcp.keepalive.probes</c>.</summary>
    public int? KeepAliveProbes { get; set; }

    /// <summary><c>tcpstore.health.store-timeout</c>.</summary>
    public TimeSpan? StoreHealthTimeout { get; set; }

    /// <summary><c>tcpstore.admin.enabled</c>. When unset, setting <see cref="AdminPort"/> enables the endpoint.</summary>
    public bool? AdminEnabled { get; set; }

    /// <summary><c>tcpstore.admin.host</c>.</summary>
    public string? AdminHost { get; set; }

    /// <summary><c>tcpstore.admin.port</c>; setting it also enables the endpoint unless <see cref="AdminEnabled"/> is
    /// set (this is what the server's <c>--admin-port</c> does).</summary>
    public int? AdminPort { get; set; }

    /// <summary><c>tcpstore.admin.store-management</c>: the admin endpoint may create and remove stores.</summary>
    public bool? AdminStoreManagement { get; set; }

    /// <summary>The HOCON for the properties that are set, under <c>tcpstore</c>; empty when none is.</summary>
    public string ToHocon()
    {
        var hocon = new StringBuilder();
        Write(hocon, "host", Host?.ToHocon());
        Write(hocon, "port", Port?.ToHocon());
        Write(hocon, "allowed-networks",
            AllowedNetworks is null ? null : "[" + string.Join(", ", AllowedNetworks.Select(n => n.ToHocon())) + "]");
        Write(hocon, "backlog", Backlog?.ToHocon());
        Write(hocon, "limits.max-key-bytes", MaxKeyBytes?.ToHocon());
        Write(hocon, "limits.max-value-bytes", MaxValueBytes?.ToHocon());
        Write(hocon, "limits.max-keys-per-request", MaxKeysPerRequest?.ToHocon());
        Write(hocon, "limits.max-queue-length", MaxQueueLength?.ToHocon());
        Write(hocon, "limits.max-connections", MaxConnections?.ToHocon());
        Write(hocon, "limits.max-buffered-bytes-per-connection", MaxBufferedBytesPerConnection?.ToHocon());
        Write(hocon, "tcp.receive-chunk-bytes", ReceiveChunkBytes?.ToHocon());
        Write(hocon, "tcp.connection-hosts", ConnectionHosts?.ToHocon());
        Write(hocon, "tcp.transport", Transport?.ToHocon());
        Write(hocon, "tcp.event-loops.count", EventLoops?.ToHocon());
        Write(hocon, "tcp.event-loops.throughput", EventLoopThroughput?.ToHocon());
        Write(hocon, "tcp.event-loops.store-on-loop", StoreOnEventLoop?.ToHocon());
        Write(hocon, "tcp.event-loops.max-turn", EventLoopMaxTurn?.ToHocon());
        Write(hocon, "tcp.no-delay", NoDelay?.ToHocon());
        Write(hocon, "tcp.keepalive.enabled", KeepAlive?.ToHocon());
        Write(hocon, "tcp.keepalive.idle", KeepAliveIdle?.ToHocon());
        Write(hocon, "tcp.keepalive.interval", KeepAliveInterval?.ToHocon());
        Write(hocon, "tcp.keepalive.probes", KeepAliveProbes?.ToHocon());
        Write(hocon, "health.store-timeout", StoreHealthTimeout?.ToHocon());
        Write(hocon, "admin.enabled", (AdminEnabled ?? (AdminPort is null ? null : true))?.ToHocon());
        Write(hocon, "admin.host", AdminHost?.ToHocon());
        Write(hocon, "admin.port", AdminPort?.ToHocon());
        Write(hocon, "admin.store-management", AdminStoreManagement?.ToHocon());
        return hocon.ToString();
    }

    /// <summary>The same as <see cref="ToHocon"/>, parsed.</summary>
    public Config ToConfig() => ConfigurationFactory.ParseString(ToHocon());

    private static void Write(StringBuilder hocon, string key, string? value)
    {
        if (value is null) return;
        hocon.Append(TcpStoreSettings.ConfigPath).Append('.').Append(key).Append(" = ").Append(value).Append('\n');
    }
}
