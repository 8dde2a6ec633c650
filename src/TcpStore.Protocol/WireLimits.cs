namespace TcpStore.Protocol;

/// <summary>
/// Size limits the decoder enforces before it allocates anything for a request. Defaults are PyTorch's libuv
/// server's (docs/PROTOCOL.md §4.1).
/// </summary>
/// <param name="MaxKeyBytes">Largest key (8192 bytes).</param>
/// <param name="MaxValueBytes">Largest value, expected or desired vector (8 MiB).</param>
/// <param name="MaxKeysPerRequest">Most keys (or key/value pairs) in one CHECK, WAIT, MULTI_GET or MULTI_SET (131072).</param>
public sealed record WireLimits(int MaxKeyBytes, int MaxValueBytes, int MaxKeysPerRequest)
{
    /// <summary>PyTorch's libuv server's limits.</summary>
    public static readonly WireLimits Default = new(8192, 8 * 1024 * 1024, 131072);

    /// <summary>No limit but the runtime's: for bytes already checked where they arrived (a batch forwarded between nodes).</summary>
    public static readonly WireLimits Unlimited = new(Array.MaxLength, Array.MaxLength, Array.MaxLength);
}
