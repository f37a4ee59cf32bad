module github.com/dbify/dbify-go

go 1.19
