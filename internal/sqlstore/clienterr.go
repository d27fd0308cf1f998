package sqlstore

// clientError is the last mapping of an error on its way to the client, applied by
// guardHandler to what GMS's handler returns (GMS has already made it a *mysql.SQLError):
// it gives MySQL's SQLSTATE and message where GMS's differ. Other errors pass through.
func clientError(err error) error {
	if err == nil {
		return nil
	}
	return readOnlyError(err)
}
