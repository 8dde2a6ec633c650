using Akka.Configuration;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Status;

/// <summary>The admin endpoint's and the status view's slice of the settings (<c>tcpstore.admin</c>); see
/// <c>hocon/reference.conf</c> for each key.</summary>
public sealed record AdminSettings(
    bool Enabled,
    string Host,
    int Port,
    TimeSpan RefreshInterval,
    int PageSize,
    int MaxPageSize,
    int ValuePreviewBytes,
    int MaxAwaitedKeys,
    int MaxPeersPerKey,
    bool StoreManagement = false)
{
    /// <summary>The embedded defaults: off, loopback, a free port, no store management.</summary>
    public static readonly AdminSettings Default = new(false, "127.0.0.1", 0, TimeSpan.FromSeconds(2), 50, 1000, 64, 200, 500);

    /// <summary>Reads <c>admin</c> from a <c>tcpstore</c> section that has every key (defaults included).</summary>
    public static AdminSettings Create(Config tcpstore) => new(
        Enabled: tcpstore.GetBoolean("admin.enabled"),
        Host: tcpstore.GetString("admin.host"),
        Port: SettingsReader.Int(tcpstore, "admin.port", 0, 65535),
        RefreshInterval: SettingsReader.PositiveTime(tcpstore, "admin.refresh-interval"),
        PageSize: SettingsReader.Positive(tcpstore, "admin.page-size"),
        MaxPageSize: SettingsReader.Positive(tcpstore, "admin.max-page-size"),
        ValuePreviewBytes: SettingsReader.Int(tcpstore, "admin.value-preview-bytes", 0, 65536),
        MaxAwaitedKeys: SettingsReader.Positive(tcpstore, "admin.max-awaited-keys"),
        MaxPeersPerKey: SettingsReader.Positive(tcpstore, "admin.max-peers-per-key"),
        StoreManagement: tcpstore.GetBoolean("admin.store-management"));
}
