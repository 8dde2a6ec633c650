using System.Globalization;
using System.Net;
using System.Text;
using Akka.Actor;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Status;

/// <summary>
/// Builds a <see cref="StatusReport"/> by asking the store (the only owner of state) and the listener (which knows
/// each connection's peer). Used by the admin endpoint; any host can call it too.
/// </summary>
public sealed class StatusCollector(IActorRef store, IActorRef listener, TcpStoreSettings settings, string storeName = "default")
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public TcpStoreSettings Settings => settings;

    /// <summary>Takes a report with the keys from <paramref name="offset"/> on, at most <paramref name="limit"/> of
    /// them (clamped to <c>tcpstore.admin.max-page-size</c>; null takes <c>page-size</c>).</summary>
    public async Task<StatusReport> CollectAsync(int offset = 0, int? limit = null, CancellationToken cancellationToken = default)
    {
        var admin = settings.Admin;
        var pageLimit = Math.Clamp(limit ?? admin.PageSize, 0, admin.MaxPageSize);
        var stats = store.Ask<StoreProtocol.StoreStats>(StoreProtocol.GetStats.Instance, AskTimeout, cancellationToken);
        var waiters = store.Ask<StoreProtocol.Waiters>(
            new StoreProtocol.GetWaiters(admin.MaxAwaitedKeys, admin.MaxPeersPerKey), AskTimeout, cancellationToken);
        var entries = store.Ask<StoreProtocol.Entries>(
            new StoreProtocol.ListEntries(Math.Max(0, offset), pageLimit, admin.ValuePreviewBytes), AskTimeout, cancellationToken);
        var barriers = store.Ask<StoreProtocol.Barriers>(
            new StoreProtocol.GetBarriers(admin.MaxAwaitedKeys, admin.MaxPeersPerKey), AskTimeout, cancellationToken);
        var queues = store.Ask<StoreProtocol.QueueList>(new StoreProtocol.ListQueues(admin.MaxAwaitedKeys), AskTimeout, cancellationToken);
        var binding = listener.Ask<TcpStoreListener.Binding>(TcpStoreListener.GetBinding.Instance, AskTimeout, cancellationToken);
        var open = listener.Ask<int>(TcpStoreListener.GetConnectionCount.Instance, AskTimeout, cancellationToken);

        var awaited = await waiters;
        var inProgress = await barriers;
        var connections = awaited.Keys.SelectMany(k => k.Connections)
            .Concat(inProgress.Items.SelectMany(b => b.Connections)).Distinct().ToList();
        var peers = connections.Count == 0
            ? new Dictionary<IActorRef, EndPoint>()
            : (await listener.Ask<TcpStoreListener.Peers>(new TcpStoreListener.GetPeers(connections), AskTimeout, cancellationToken)).Addresses;

        var s = await stats;
        var page = await entries;
        var queueList = await queues;
        return new StatusReport
        {
            Time = DateTimeOffset.UtcNow,
            Address = (await binding).LocalAddress?.ToString(),
            Limits = settings.DescribeLimits(),
            RefreshSeconds = admin.RefreshInterval.TotalSeconds,
            Numbers = new StatusNumbers
            {
                OpenConnections = await open,
                Keys = s.Keys,
                Queues = s.Queues,
                QueueItems = s.QueueItems,
                StoredBytes = s.StoredBytes,
                WaitingConnections = s.WaitingConnections,
                WaiterRegistrations = s.WaiterRegistrations,
                AcceptedLastSecond = TcpStoreMetrics.Find(storeName)?.AcceptedLastSecond() ?? 0,
            },
            Operations = TcpStoreMetrics.Find(storeName)?.OperationTotals() ?? new Dictionary<string, long>(),
            Errors = TcpStoreMetrics.Find(storeName)?.ErrorTotals() ?? new Dictionary<string, long>(),
            Awaited = new AwaitedKeys
            {
                Total = awaited.TotalKeys,
                Items = awaited.Keys.Select(k => new AwaitedKeyStatus
                {
                    Key = Display(k.Key),
                    Waiting = k.Registrations,
                    Peers = k.Connections.Select(c => PeerOf(c, peers)).ToList(),
                    PeersTruncated = k.Connections.Count < k.Registrations,
                }).ToList(),
            },
            Barriers = new BarrierList
            {
                Total = inProgress.Total,
                Items = inProgress.Items.Select(b => new BarrierStatus
                {
                    Key = Display(b.Key),
                    Arrived = b.Arrived,
                    Expected = b.Expected,
                    Waiting = b.Waiting,
                    Peers = b.Connections.Select(c => PeerOf(c, peers)).ToList(),
                    PeersTruncated = b.Connections.Count < b.Waiting,
                }).ToList(),
            },
            Keys = new KeyPage
            {
                Total = page.Total,
                Offset = page.Offset,
                Limit = pageLimit,
                Items = page.Items.Select(e => new KeyStatus
                {
                    Key = Display(e.Key),
                    Bytes = e.ValueBytes,
                    Value = e.Value is { } value && IsPrintable(value) ? Encoding.UTF8.GetString(value) : null,
                }).ToList(),
            },
            Queues = new QueuePage
            {
                Total = queueList.Total,
                Items = queueList.Queues.Select(q => new QueueStatus { Name = Display(q.Name), Items = q.Items }).ToList(),
            },
        };
    }

    private static string PeerOf(IActorRef connection, IReadOnlyDictionary<IActorRef, EndPoint> peers) =>
        peers.TryGetValue(connection, out var peer) ? peer.ToString() ?? "?" : "(closed)";

    /// <summary>Bytes as text: printable UTF-8 as is, anything else escaped as <c>\xNN</c> (and a backslash as <c>\\</c>).</summary>
    public static string Display(byte[] bytes)
    {
        if (IsPrintable(bytes) && Array.IndexOf(bytes, (byte)'\\') < 0) return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length * 2);
        foreach (var b in bytes)
        {
            if (b == '\\') text.Append(@"\\");
            else if (b is >= 0x20 and < 0x7f) text.Append((char)b);
            else text.Append(@"\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private static bool IsPrintable(byte[] bytes)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        foreach (var c in text)
        {
            if (char.IsControl(c)) return false;
        }
        return true;
    }
}
