namespace TcpStore.Protocol;

/// <summary>
/// The first byte of every request, as PyTorch numbers them (docs/PROTOCOL.md §2.1): 0-17 in 2.10, BARRIER (18) since
/// 2.12.
/// </summary>
public enum QueryType : byte
{
    /// <summary>The first message of every connection: a u32 magic number.</summary>
    Validate = 0,
    /// <summary>Stores a value under a key; no reply.</summary>
    Set = 1,
    /// <summary>Replaces a value if it equals the expected one; replies with the value now stored.</summary>
    CompareSet = 2,
    /// <summary>Reads a value.</summary>
    Get = 3,
    /// <summary>Adds to a decimal counter; replies with the new value.</summary>
    Add = 4,
    /// <summary>Whether every key exists, without waiting.</summary>
    Check = 5,
    /// <summary>Waits until every key exists.</summary>
    Wait = 6,
    /// <summary>Counts the keys.</summary>
    GetNumKeys = 7,
    /// <summary>Deletes a key; replies whether it existed.</summary>
    DeleteKey = 8,
    /// <summary>Appends bytes to a value; no reply.</summary>
    Append = 9,
    /// <summary>Reads several values.</summary>
    MultiGet = 10,
    /// <summary>Stores several values as one unit; no reply.</summary>
    MultiSet = 11,
    /// <summary>Cancels the connection's outstanding WAIT.</summary>
    CancelWait = 12,
    /// <summary>Echoes a u32 nonce.</summary>
    Ping = 13,
    /// <summary>Appends an item to a queue; no reply.</summary>
    QueuePush = 14,
    /// <summary>Takes the oldest item of a queue.</summary>
    QueuePop = 15,
    /// <summary>Counts a queue's items.</summary>
    QueueLen = 16,
    /// <summary>Lists every key.</summary>
    ListKeys = 17,
    /// <summary>Counts an arrival at a barrier and waits until the count reaches the world size (PyTorch 2.12+).</summary>
    Barrier = 18,
}

/// <summary>Wire constants shared by the decoder, the encoder and the tests.</summary>
public static class WireFormat
{
    /// <summary>The VALIDATE magic number; on the wire (little-endian) <c>ce f7 85 3c</c>.</summary>
    public const uint ValidationMagic = 0x3C85F7CE;

    /// <summary>Length of the VALIDATE message: type byte plus u32 magic.</summary>
    public const int ValidateLength = 5;

    /// <summary>The highest query type a PyTorch client sends (BARRIER, since 2.12).</summary>
    public const QueryType LastQueryType = QueryType.Barrier;

    /// <summary>The exact first five bytes of every valid connection.</summary>
    public static ReadOnlySpan<byte> ValidateMessage => [0x00, 0xce, 0xf7, 0x85, 0x3c];
}
