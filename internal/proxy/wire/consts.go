package wire

// Capability flags.
const (
	ClientLongPassword     uint32 = 1 << 0
	ClientFoundRows        uint32 = 1 << 1
	ClientLongFlag         uint32 = 1 << 2
	ClientConnectWithDB    uint32 = 1 << 3
	ClientNoSchema         uint32 = 1 << 4
	ClientCompress         uint32 = 1 << 5
	ClientODBC             uint32 = 1 << 6
	ClientLocalFiles       uint32 = 1 << 7
	ClientIgnoreSpace      uint32 = 1 << 8
	ClientProtocol41       uint32 = 1 << 9
	ClientInteractive      uint32 = 1 << 10
	ClientSSL              uint32 = 1 << 11
	ClientIgnoreSigpipe    uint32 = 1 << 12
	ClientTransactions     uint32 = 1 << 13
	ClientSecureConnection uint32 = 1 << 15
	ClientMultiStatements  uint32 = 1 << 16
	ClientMultiResults     uint32 = 1 << 17
	ClientPSMultiResults   uint32 = 1 << 18
	ClientPluginAuth       uint32 = 1 << 19
	ClientConnectAttrs     uint32 = 1 << 20
	ClientPluginAuthLenenc uint32 = 1 << 21
	ClientSessionTrack     uint32 = 1 << 23
	ClientDeprecateEOF     uint32 = 1 << 24
)

// Server status flags.
const (
	StatusInTrans          uint16 = 0x0001
	StatusAutocommit       uint16 = 0x0002
	StatusMoreResults      uint16 = 0x0008
	StatusCursorExists     uint16 = 0x0040
	StatusLastRowSent      uint16 = 0x0080
	StatusInTransReadonly  uint16 = 0x2000
	StatusSessionStateChng uint16 = 0x4000
)

// Commands.
const (
	ComQuit             byte = 0x01
	ComInitDB           byte = 0x02
	ComQuery            byte = 0x03
	ComFieldList        byte = 0x04
	ComStatistics       byte = 0x09
	ComProcessKill      byte = 0x0c
	ComPing             byte = 0x0e
	ComChangeUser       byte = 0x11
	ComStmtPrepare      byte = 0x16
	ComStmtExecute      byte = 0x17
	ComStmtSendLongData byte = 0x18
	ComStmtClose        byte = 0x19
	ComStmtReset        byte = 0x1a
	ComSetOption        byte = 0x1b
	ComStmtFetch        byte = 0x1c
	ComResetConnection  byte = 0x1f
)

// Packet headers.
const (
	HeaderOK          byte = 0x00
	HeaderLocalInfile byte = 0xfb
	HeaderEOF         byte = 0xfe
	HeaderErr         byte = 0xff
)

// NativePassword is the mysql_native_password plugin's name.
const NativePassword = "mysql_native_password"

// MySQL error codes the proxy answers with.
const (
	ErUnknownCom        uint16 = 1047 // a command the proxy does not serve
	ErAccessDenied      uint16 = 1045
	ErNotSupportedAuth  uint16 = 1251
	ErHandshake         uint16 = 1043 // ER_HANDSHAKE_ERROR: a malformed handshake
	ErNetPacketTooLarge uint16 = 1153
	ErUnknownStmt       uint16 = 1243 // ER_UNKNOWN_STMT_HANDLER
	ErNotSupportedYet   uint16 = 1235
	ErWrongValueForVar  uint16 = 1231
	ErMalformedPacket   uint16 = 1835 // ER_MALFORMED_PACKET
	ErLockOrActiveTrans uint16 = 1192
	ErUnknown           uint16 = 1105
	// ErServerShutdown is what a draining node (a writer handing over) answers a statement
	// it did not run: the proxy sends the statement again to the next node.
	ErServerShutdown uint16 = 1053
	// CrConnHostError is the client library's "can't connect" code, which the proxy sends,
	// as MySQL Router does, when it cannot reach a node for the client.
	CrConnHostError uint16 = 2003
	// CrServerLost is the client library's "lost connection during query" code, sent when a
	// node's connection broke under a statement.
	CrServerLost uint16 = 2013
)
