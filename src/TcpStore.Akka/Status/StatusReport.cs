using System.Text.Json.Serialization;

namespace TcpStore.Akka.Status;

/// <summary>
/// What the admin endpoint's <c>/status</c> answers (JSON, camelCase), and what <see cref="AdminStatusClient"/>
/// reads back: the store's numbers, who waits for which absent key and from where, and one page of the keys.
/// Keys and values are shown as text; bytes that are not printable UTF-8 are escaped as <c>\xNN</c>.
/// </summary>
public sealed record StatusReport
{
    /// <summary>When the report was taken (UTC).</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>The address the store listens on (null if it is not bound).</summary>
    public string? Address { get; init; }

    /// <summary>The configured limits, in one line.</summary>
    public string Limits { get; init; } = "";

    /// <summary>How often the status page refreshes itself, in seconds.</summary>
    public double RefreshSeconds { get; init; }

    public StatusNumbers Numbers { get; init; } = new();

    /// <summary>Queries executed so far, by query type (this process).</summary>
    public IReadOnlyDictionary<string, long> Operations { get; init; } = new Dictionary<string, long>();

    /// <summary>Errors counted so far, by reason (this process): the totals of <c>tcpstore.errors</c>.</summary>
    public IReadOnlyDictionary<string, long> Errors { get; init; } = new Dictionary<string, long>();

    public AwaitedKeys Awaited { get; init; } = new();

    public BarrierList Barriers { get; init; } = new();

    public KeyPage Keys { get; init; } = new();

    public QueuePage Queues { get; init; } = new();
}

/// <summary>The store's and the listener's numbers at <see cref="StatusReport.Time"/>.</summary>
public sealed record StatusNumbers
{
    public int OpenConnections { get; init; }
    public int Keys { get; init; }
    public int Queues { get; init; }
    public long QueueItems { get; init; }
    public long StoredBytes { get; init; }
    public int WaitingConnections { get; init; }
    public int WaiterRegistrations { get; init; }

    /// <summary>Connections accepted in the last full second.</summary>
    public long AcceptedLastSecond { get; init; }
}

/// <summary>The absent keys that outstanding WAITs are registered on, most-awaited first.</summary>
public sealed record AwaitedKeys
{
    /// <summary>Every awaited key, even those not listed.</summary>
    public int Total { get; init; }

    public IReadOnlyList<AwaitedKeyStatus> Items { get; init; } = [];
}

/// <summary>One awaited key: how many connections wait on it, and the peers of (up to a limit of) them.</summary>
public sealed record AwaitedKeyStatus
{
    public string Key { get; init; } = "";

    /// <summary>Registrations on the key: one per waiting connection (twice if its WAIT names the key twice).</summary>
    public int Waiting { get; init; }

    /// <summary>The waiting connections' remote addresses (<c>host:port</c>), in the order they started waiting.</summary>
    public IReadOnlyList<string> Peers { get; init; } = [];

    /// <summary>True when more connections wait than <see cref="Peers"/> lists.</summary>
    [JsonPropertyName("peersTruncated")]
    public bool PeersTruncated { get; init; }
}

/// <summary>The barriers (BARRIER, query 18) with arrivals waiting, most waiting first.</summary>
public sealed record BarrierList
{
    /// <summary>Every barrier with waiters, even those not listed.</summary>
    public int Total { get; init; }

    public IReadOnlyList<BarrierStatus> Items { get; init; } = [];
}

/// <summary>One barrier in progress: its count against the world size, and who waits.</summary>
public sealed record BarrierStatus
{
    public string Key { get; init; } = "";

    /// <summary>The arrivals counted in the key so far; null when its value is not a count any more.</summary>
    public long? Arrived { get; init; }

    /// <summary>The world size the waiting arrivals asked for (the largest, if they differ).</summary>
    public long Expected { get; init; }

    /// <summary>Arrivals waiting for the release.</summary>
    public int Waiting { get; init; }

    /// <summary>The waiting connections' remote addresses, in arrival order.</summary>
    public IReadOnlyList<string> Peers { get; init; } = [];

    /// <summary>True when more connections wait than <see cref="Peers"/> lists.</summary>
    [JsonPropertyName("peersTruncated")]
    public bool PeersTruncated { get; init; }
}

/// <summary>One page of the keys present, in ordinal byte order.</summary>
public sealed record KeyPage
{
    public int Total { get; init; }
    public int Offset { get; init; }
    public int Limit { get; init; }
    public IReadOnlyList<KeyStatus> Items { get; init; } = [];
}

/// <summary>One key, its value's size, and its value when short and printable.</summary>
public sealed record KeyStatus
{
    public string Key { get; init; } = "";
    public int Bytes { get; init; }
    public string? Value { get; init; }
}

/// <summary>The non-empty queues, in ordinal byte order.</summary>
public sealed record QueuePage
{
    public int Total { get; init; }
    public IReadOnlyList<QueueStatus> Items { get; init; } = [];
}

public sealed record QueueStatus
{
    public string Name { get; init; } = "";
    public int Items { get; init; }
}
