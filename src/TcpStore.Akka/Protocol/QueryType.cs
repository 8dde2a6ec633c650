namespace TcpStore.Akka.Protocol;

/// <summary>
/// The first byte of every request, as PyTorch 2.10 numbers them (PROTOCOL.md B §2.1).
/// </summary>
public enum QueryType : byte
{
    Validate = 0,
    Set = 1,
    CompareSet = 2,
    Get = 3,
    Add = 4,
    Check = 5,
    Wait = 6,
    GetNumKeys = 7,
    DeleteKey = 8,
    Append = 9,
    MultiGet = 10,
    MultiSet = 11,
    CancelWait = 12,
    Ping = 13,
    QueuePush = 14,
    QueuePop = 15,
    QueueLen = 16,
    ListKeys = 17,
}

/// <summary>Wire constants shared by the decoder, the encoder and the tests.</summary>
public static class WireFormat
{
    /// <summary>The VALIDATE magic number; on the wire (little-endian) <c>ce f7 85 3c</c>.</summary>
    public const uint ValidationMagic = 0x3C85F7CE;

    /// <summary>Length of the VALIDATE message: type byte plus u32 magic.</summary>
    public const int ValidateLength = 5;

    /// <summary>The highest query type PyTorch 2.10 sends (LIST_KEYS).</summary>
    public const QueryType LastQueryType = QueryType.ListKeys;

    /// <summary>The exact first five bytes of every valid connection.</summary>
    public static ReadOnlySpan<byte> ValidateMessage => [0x00, 0xce, 0xf7, 0x85, 0x3c];
}
