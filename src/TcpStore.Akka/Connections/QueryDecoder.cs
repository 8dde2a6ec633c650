using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using TcpStore.Protocol;

namespace TcpStore.Akka.Connections;

/// <summary>
/// Decodes a connection's incoming bytes into queries: one <see cref="QueryParser"/> per materialization. Every
/// upstream chunk that completes at least one query yields one batch holding all of them, in order, so the store
/// can execute a pipelined segment in one step.
/// </summary>
/// <remarks>
/// A <see cref="ProtocolViolationException"/> fails the stage; queries the same chunk completed before the bad
/// request are emitted first (they are valid and precede it on the wire). An upstream finish in the middle of a
/// request fails the stage with <see cref="ViolationReason.TruncatedRequest"/>.
/// </remarks>
public sealed class QueryDecoder : GraphStage<FlowShape<ByteString, IReadOnlyList<Query>>>
{
    /// <summary>A flow decoding a connection's bytes under <paramref name="limits"/>.</summary>
    public static Flow<ByteString, IReadOnlyList<Query>, NotUsed> Create(WireLimits limits) =>
        Flow.FromGraph(new QueryDecoder(limits)).Named("tcpstore-query-decoder");

    private readonly WireLimits _limits;

    public QueryDecoder(WireLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        _limits = limits;
        Shape = new FlowShape<ByteString, IReadOnlyList<Query>>(In, Out);
    }

    public Inlet<ByteString> In { get; } = new("QueryDecoder.in");

    public Outlet<IReadOnlyList<Query>> Out { get; } = new("QueryDecoder.out");

    public override FlowShape<ByteString, IReadOnlyList<Query>> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("tcpstore-query-decoder");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    public override string ToString() => "QueryDecoder";

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly QueryDecoder _stage;
        private readonly QueryParser _parser;

        // Reused while chunks complete nothing; handed downstream (and replaced) once it holds queries.
        private List<Query> _batch = [];

        // Port counts, not the shape: the shape constructor formats a log source for each logic, i.e. each connection
        // (the constant LogSource below stands in; this logic never logs).
        public Logic(QueryDecoder stage) : base(inCount: 1, outCount: 1)
        {
            _stage = stage;
            _parser = new QueryParser(stage._limits);
            SetHandlers(stage.In, stage.Out, this);
        }

        protected override object LogSource => "QueryDecoder";

        public override void OnPush()
        {
            var chunk = Grab(_stage.In);
            try
            {
                Feed(chunk);
            }
            catch (ProtocolViolationException violation)
            {
                if (_batch.Count > 0)
                    Push(_stage.Out, TakeBatch());
                FailStage(violation);
                return;
            }

            if (_batch.Count > 0)
                Push(_stage.Out, TakeBatch());
            else
                Pull(_stage.In);
        }

        public override void OnPull() => Pull(_stage.In);

        public override void OnUpstreamFinish()
        {
            try
            {
                _parser.Complete();
            }
            catch (ProtocolViolationException violation)
            {
                FailStage(violation);
                return;
            }

            CompleteStage();
        }

        private void Feed(ByteString chunk)
        {
            // Akka.IO's TCP chunks are compact, so this is a view; a composite ByteString would be copied once here.
            if (!chunk.IsEmpty)
                _parser.Feed(chunk.ToReadOnlySpan(), _batch);
        }

        private List<Query> TakeBatch()
        {
            var batch = _batch;
            _batch = [];
            return batch;
        }
    }
}
