using System.Buffers.Binary;
using System.Text;

namespace TcpStore.TestSupport;

/// <summary>
/// Request and reply bytes written out by hand from docs/PROTOCOL.md, independent of the product's codec, so socket
/// tests check the wire itself.
/// </summary>
public static class Wire
{
    public static readonly byte[] Validate = [0x00, 0xce, 0xf7, 0x85, 0x3c];

    public static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    public static byte[] I64(long value) => U64(unchecked((ulong)value));

    public static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>A length-prefixed string or byte vector.</summary>
    public static byte[] Str(byte[] bytes) => Cat(U64((ulong)bytes.Length), bytes);

    public static byte[] Str(string text) => Str(B(text));

    public static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Set(string key, string value) => Cat([1], Str(key), Str(value));
    public static byte[] Set(string key, byte[] value) => Cat([1], Str(key), Str(value));
    public static byte[] CompareSet(string key, string expected, string desired) =>
        Cat([2], Str(key), Str(expected), Str(desired));
    public static byte[] Get(string key) => Cat([3], Str(key));
    public static byte[] Add(string key, long delta) => Cat([4], Str(key), I64(delta));
    public static byte[] Check(params string[] keys) => Cat([5], Keys(keys));
    public static byte[] Wait(params string[] keys) => Cat([6], Keys(keys));
    public static byte[] GetNumKeys() => [7];
    public static byte[] DeleteKey(string key) => Cat([8], Str(key));
    public static byte[] Append(string key, string value) => Cat([9], Str(key), Str(value));
    public static byte[] MultiGet(params string[] keys) => Cat([10], Keys(keys));
    public static byte[] MultiSet(params (string Key, string Value)[] pairs) =>
        Cat([11], U64((ulong)pairs.Length), Cat(pairs.Select(p => Cat(Str(p.Key), Str(p.Value))).ToArray()));
    public static byte[] CancelWait() => [12];
    public static byte[] Ping(uint nonce) => Cat([13], U32(nonce));
    public static byte[] QueuePush(string key, string value) => Cat([14], Str(key), Str(value));
    public static byte[] QueuePop(string key) => Cat([15], Str(key));
    public static byte[] QueueLen(string key) => Cat([16], Str(key));
    public static byte[] Barrier(string key, long worldSize) => Cat([18], Str(key), I64(worldSize));
    public static byte[] ListKeys() => [17];

    private static byte[] Keys(string[] keys) =>
        Cat(U64((ulong)keys.Length), Cat(keys.Select(Str).ToArray()));
}
