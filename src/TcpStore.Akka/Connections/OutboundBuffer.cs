using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TcpStore.Akka.Connections;

/// <summary>Feeds bytes into a connection's <see cref="OutboundBuffer"/> from outside the stream. Thread-safe.</summary>
public interface IOutboundWriter
{
    /// <summary>Queue <paramref name="bytes"/> for the socket.</summary>
    void Write(ByteString bytes);

    /// <summary>Complete the stream (and so close the connection) once everything written so far is out.</summary>
    void Complete();
}

/// <summary>
/// Raised when a connection holds more unsent reply bytes than
/// <c>tcpstore.limits.max-buffered-bytes-per-connection</c> allows (typically a peer that does not read).
/// </summary>
public sealed class OutboundBufferOverflowException(int limit)
    : Exception($"max-buffered-bytes-per-connection ({limit} bytes) exceeded: the peer does not read its replies")
{
    public int Limit { get; } = limit;
}

/// <summary>
/// The source of a connection's outgoing bytes. Akka's TCP stage keeps one write in flight; everything written here
/// while that write is pending is coalesced into the next element, so one socket write carries every reply that is
/// ready. The bytes held here are bounded; going over the bound fails the stream, which closes that connection only.
/// </summary>
public sealed class OutboundBuffer : GraphStageWithMaterializedValue<SourceShape<ByteString>, IOutboundWriter>
{
    /// <summary>A source whose materialized <see cref="IOutboundWriter"/> feeds it.</summary>
    public static Source<ByteString, IOutboundWriter> Create(int maxBufferedBytes) =>
        Source.FromGraph(new OutboundBuffer(maxBufferedBytes)).Named("tcpstore-outbound-buffer");

    private readonly int _maxBufferedBytes;

    private OutboundBuffer(int maxBufferedBytes)
    {
        _maxBufferedBytes = maxBufferedBytes;
        Shape = new SourceShape<ByteString>(Out);
    }

    public Outlet<ByteString> Out { get; } = new("OutboundBuffer.out");

    public override SourceShape<ByteString> Shape { get; }

    public override ILogicAndMaterializedValue<IOutboundWriter> CreateLogicAndMaterializedValue(
        Attributes inheritedAttributes)
    {
        var logic = new Logic(this);
        return new LogicAndMaterializedValue<IOutboundWriter>(logic, logic.Writer);
    }

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly OutboundBuffer _stage;
        private ByteString _pending = ByteString.Empty;
        private bool _completing;

        public Logic(OutboundBuffer stage) : base(stage.Shape)
        {
            _stage = stage;
            Writer = new CallbackWriter(GetAsyncCallback<ByteString>(OnWrite), GetAsyncCallback(OnComplete));
            SetHandler(stage.Out, this);
        }

        public IOutboundWriter Writer { get; }

        public override void OnPull() => TryPush();

        private void OnWrite(ByteString bytes)
        {
            if (_completing || bytes.IsEmpty) return;
            if ((long)_pending.Count + bytes.Count > _stage._maxBufferedBytes)
            {
                FailStage(new OutboundBufferOverflowException(_stage._maxBufferedBytes));
                return;
            }

            _pending = _pending.IsEmpty ? bytes : _pending.Concat(bytes);
            TryPush();
        }

        private void OnComplete()
        {
            _completing = true;
            if (_pending.IsEmpty) CompleteStage();
        }

        private void TryPush()
        {
            if (_pending.IsEmpty || !IsAvailable(_stage.Out)) return;
            var bytes = _pending;
            _pending = ByteString.Empty;
            Push(_stage.Out, bytes);
            if (_completing) CompleteStage();
        }
    }

    private sealed class CallbackWriter(Action<ByteString> write, Action complete) : IOutboundWriter
    {
        public void Write(ByteString bytes) => write(bytes);

        public void Complete() => complete();
    }
}
